//! Listing lines from a hostile server, as the client reads them (ferry_client::listing): MLSD,
//! MLST and LIST parsers never panic, and what they accept prints.
#![no_main]
use libfuzzer_sys::fuzz_target;

use ferry_client::listing::RemoteEntry;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for line in text.split('\n') {
        for e in [
            RemoteEntry::from_mlsx(line),
            RemoteEntry::from_mlst(line),
            RemoteEntry::from_list_line(line),
        ]
        .into_iter()
        .flatten()
        {
            let _ = e.long_line(1_700_000_000);
            let _ = e.long_line(i64::MIN);
            let _ = e.long_line(i64::MAX);
        }
    }
});
