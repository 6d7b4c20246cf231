//! Replies the server encodes: whatever the code and text (a file name may hold CR, LF or
//! digits that look like a reply code), the client's parser reads back one reply with the
//! same code and the same number of lines, completed by the last line and not before.
#![no_main]
use libfuzzer_sys::fuzz_target;

use ferry_proto::{Reply, ReplyParser};

fuzz_target!(|input: (u16, Vec<String>)| {
    let (code, lines) = input;
    let code = 100 + code % 900;
    if lines.len() > 200 {
        return;
    }
    let reply = if lines.len() <= 1 {
        Reply::new(code, lines.into_iter().next().unwrap_or_default())
    } else {
        Reply::multi(code, lines)
    };
    let wire = reply.encode();
    let wire_lines: Vec<&str> = wire.split_terminator("\r\n").collect();
    let mut parser = ReplyParser::new();
    for (i, line) in wire_lines.iter().enumerate() {
        assert!(!line.contains(['\r', '\n']), "{wire:?}");
        let got = parser.push_line(line).expect("the server's own encoding parses");
        if i + 1 < wire_lines.len() {
            assert_eq!(got, None, "ended early at line {i}: {wire:?}");
        } else {
            let got = got.expect("the last line completes the reply");
            assert_eq!(got.code, code);
            assert_eq!(got.lines.len(), reply.lines.len().max(1), "{wire:?}");
        }
    }
});
