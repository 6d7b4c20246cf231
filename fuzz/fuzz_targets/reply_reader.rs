//! Bytes from a hostile server on the control connection, read as the client reads them
//! (ferry_client's Control::read_reply: lines split at LF, decoded lossily, CR/LF trimmed, fed
//! to ReplyParser): never a panic, and no reply has more than ReplyParser::MAX_LINES lines.
#![no_main]
use libfuzzer_sys::fuzz_target;

use ferry_proto::ReplyParser;

fuzz_target!(|data: &[u8]| {
    let mut parser = ReplyParser::new();
    for raw in data.split_inclusive(|b| *b == b'\n') {
        let text = String::from_utf8_lossy(raw);
        let text = text.trim_end_matches(['\r', '\n']);
        match parser.push_line(text) {
            Ok(Some(r)) => {
                assert!((0..=999).contains(&r.code), "{r:?}");
                assert!(!r.lines.is_empty() && r.lines.len() <= ReplyParser::MAX_LINES);
                // A reply read from the wire encodes to lines the parser reads back alike.
                let mut again = ReplyParser::new();
                let mut last = None;
                for l in r.encode().split_terminator("\r\n") {
                    last = again.push_line(l).expect("an encoded reply parses");
                }
                let last = last.expect("an encoded reply completes");
                assert_eq!((last.code, last.lines.len()), (r.code, r.lines.len()));
                parser = ReplyParser::new();
            }
            Ok(None) => {}
            // The client gives up on the connection here; so does the reader.
            Err(_) => break,
        }
    }
});
