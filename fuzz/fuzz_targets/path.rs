//! The jail's lexical layer: whatever the argument, the result stays beneath the root.
#![no_main]
use libfuzzer_sys::fuzz_target;

use ferry_vfs::VirtualPath;

fuzz_target!(|data: (&str, &str)| {
    let (cwd, arg) = data;
    let Ok(cwd) = VirtualPath::resolve(&VirtualPath::root(), cwd) else { return };
    if let Ok(p) = VirtualPath::resolve(&cwd, arg) {
        for c in p.relative().components() {
            assert!(matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir), "{p:?}");
        }
    }
});
