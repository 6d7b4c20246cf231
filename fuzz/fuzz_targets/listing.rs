//! The server's listing lines (crates/proto/src/listing.rs): for any entry, the MLSD line it
//! writes parses back to its name and facts, and both line forms are read by the client's
//! parsers without panicking. Arbitrary MLSD-looking text never panics the parser.
#![no_main]
use libfuzzer_sys::fuzz_target;

use ferry_client::listing::RemoteEntry;
use ferry_proto::listing::{parse_mlsx_line, Entry, EntryKind};

fuzz_target!(|input: (String, u8, u64, i64, u32, u64, (u64, u64), i64, &str)| {
    let (name, kind, size, mtime, mode, nlink, unique, now, text) = input;
    let _ = parse_mlsx_line(text);
    let kind = match kind % 3 {
        0 => EntryKind::File,
        1 => EntryKind::Dir,
        _ => EntryKind::Symlink,
    };
    let e = Entry { name, kind, size, mtime, mode, nlink, unique };

    let mut mlsx = String::new();
    e.write_mlsx_line(&mut mlsx);
    let (facts, name) = parse_mlsx_line(&mlsx).expect("our own MLSD line parses");
    assert_eq!(name, e.name, "{mlsx:?}");
    let fact = |k: &str| facts.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if kind == EntryKind::File {
        assert_eq!(fact("size"), Some(size.to_string().as_str()), "{mlsx:?}");
    }
    let modify = fact("modify").expect("modify fact");
    let parsed = ferry_proto::time::parse_mdtm(modify).expect("modify parses");
    // Years outside 0000-9999 are clamped when written; inside, the time is exact.
    if (-62_167_219_200..=253_402_300_799).contains(&mtime) {
        assert_eq!(parsed, mtime, "{mlsx:?}");
    }
    let client = RemoteEntry::from_mlsx(&mlsx).expect("the client reads our MLSD line");
    assert_eq!(client.name, e.name);
    if kind == EntryKind::File {
        assert_eq!(client.size, Some(size));
    }
    assert_eq!(client.mode, Some(mode & 0o7777));

    let mut list = String::new();
    e.write_list_line(now, &mut list);
    if let Some(client) = RemoteEntry::from_list_line(&list) {
        assert_eq!(client.size, Some(size), "{list:?}");
        let _ = client.long_line(now);
    }
});
