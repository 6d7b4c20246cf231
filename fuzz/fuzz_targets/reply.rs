//! Any lines a (hostile) server sends: the client's reply parser never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parser = ferry_proto::ReplyParser::new();
    for line in text.split("\r\n") {
        if parser.push_line(line).is_err() {
            break;
        }
    }
});
