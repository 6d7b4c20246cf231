//! Any bytes a client sends as a control line: parsing never panics, and what parses
//! re-encodes to a line that parses to the very same command.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(cmd) = ferry_proto::Command::parse(data) {
        let wire = cmd.to_string();
        let again = ferry_proto::Command::parse(wire.as_bytes());
        assert_eq!(again.as_ref(), Ok(&cmd), "{data:?} -> {wire:?}");
    }
    let text = String::from_utf8_lossy(data);
    let _ = ferry_proto::hostport::parse_eprt(&text);
    let _ = ferry_proto::hostport::parse_pasv_reply(&text);
    let _ = ferry_proto::hostport::parse_epsv_reply(&text);
    let _ = ferry_proto::listing::parse_mlsx_line(&text);
    let _ = ferry_proto::hash::parse_hash_reply(&text);
    let _ = ferry_proto::time::parse_mdtm(&text);
    let _ = ferry_proto::size::parse_size(&text);
});
