//! Real clients against a real server: curl, lftp and Python's ftplib, run as subprocesses.
//! Every byte that crosses is checked by SHA-256.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use ferry_testkit::{random_bytes, require, sha256, sha256_file, TestServer, ALICE};

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    if !out.status.success() {
        panic!(
            "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

fn curl() -> Command {
    let mut c = Command::new("curl");
    c.args(["-sS", "--max-time", "60"]);
    c
}

/// Percent-encodes a path for a URL (curl sends the decoded bytes on the wire).
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn curl_upload_download_list_and_file_operations() {
    if !require("curl") {
        return;
    }
    let srv = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src.bin");
    std::fs::write(&src, random_bytes(5 << 20, 11)).unwrap();
    let base = srv.url(ALICE);
    let name = "目录 one/文件 \"q\".bin";
    // Upload into a directory curl creates.
    run(curl()
        .arg("--ftp-create-dirs")
        .arg("-T")
        .arg(&src)
        .arg(format!("{base}/{}", enc(name))));
    assert_eq!(
        sha256_file(&srv.home("alice").join(name)),
        sha256_file(&src)
    );
    // Download, passive (EPSV) and active (EPRT/PORT).
    for (i, extra) in [vec![], vec!["--disable-epsv"], vec!["-P", "127.0.0.1"]]
        .into_iter()
        .enumerate()
    {
        let dst = tmp.path().join(format!("dst{i}.bin"));
        run(curl()
            .args(&extra)
            .arg("-o")
            .arg(&dst)
            .arg(format!("{base}/{}", enc(name))));
        assert_eq!(sha256_file(&dst), sha256_file(&src), "variant {extra:?}");
    }
    // Listings.
    let out = run(curl().arg(format!("{base}/{}/", enc("目录 one"))));
    let listing = String::from_utf8(out.stdout).unwrap();
    assert!(listing.contains("文件 \"q\".bin"), "{listing}");
    let out = run(curl()
        .arg("--list-only")
        .arg(format!("{base}/{}/", enc("目录 one"))));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        "文件 \"q\".bin"
    );
    // mkdir / rename / delete / rmdir via quote commands.
    run(curl()
        .args([
            "-Q",
            "MKD made",
            "-Q",
            "RNFR made",
            "-Q",
            "RNTO renamed",
            "-Q",
            "RMD renamed",
        ])
        .arg(format!("{base}/"))
        .arg("-o")
        .arg("/dev/null"));
    assert!(!srv.home("alice").join("renamed").exists());
    run(curl()
        .args(["-Q", &format!("DELE {name}")])
        .arg(format!("{base}/"))
        .arg("-o")
        .arg("/dev/null"));
    assert!(!srv.home("alice").join(name).exists());
    // A missing file is an error with curl's "file not found" code (78).
    let st = curl()
        .arg("-o")
        .arg(tmp.path().join("x"))
        .arg(format!("{base}/nope"))
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(78));
    // Wrong password: curl's login failure (67).
    let st = curl()
        .arg(format!("ftp://alice:wrong@{}/", srv.addr))
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(67));
}

#[test]
fn curl_resumes_an_interrupted_download_and_upload() {
    if !require("curl") {
        return;
    }
    let srv = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let data = random_bytes(3 << 20, 12);
    std::fs::write(srv.home("alice").join("f.bin"), &data).unwrap();
    // A partial download: the first 1 234 567 bytes.
    let part = tmp.path().join("f.bin");
    std::fs::write(&part, &data[..1_234_567]).unwrap();
    run(curl()
        .args(["-C", "-", "-o"])
        .arg(&part)
        .arg(format!("{}/f.bin", srv.url(ALICE))));
    assert_eq!(sha256_file(&part), sha256(&data));
    // A partial upload: the server has a prefix; curl -C - appends the rest.
    std::fs::write(srv.home("alice").join("up.bin"), &data[..777_777]).unwrap();
    let full = tmp.path().join("full.bin");
    std::fs::write(&full, &data).unwrap();
    run(curl()
        .args(["-C", "-", "-T"])
        .arg(&full)
        .arg(format!("{}/up.bin", srv.url(ALICE))));
    assert_eq!(
        sha256_file(&srv.home("alice").join("up.bin")),
        sha256(&data)
    );
}

fn lftp(srv: &TestServer, script: &str, cwd: &Path) -> Output {
    let full = format!(
        "set ftp:ssl-allow no; set net:max-retries 1; set net:timeout 20; set cmd:fail-exit yes; open -u {},{} -p {} 127.0.0.1; {script}",
        ALICE.0,
        ALICE.1,
        srv.port()
    );
    run(Command::new("lftp").arg("-c").arg(full).current_dir(cwd))
}

#[test]
fn lftp_transfers_listings_and_file_operations() {
    if !require("lftp") {
        return;
    }
    let srv = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("a.bin"), random_bytes(4 << 20, 21)).unwrap();
    std::fs::write(tmp.path().join("名字 b.txt"), b"hello lftp\n").unwrap();
    lftp(
        &srv,
        "mkdir -p 'd 1/sub'; cd 'd 1'; put a.bin; put '名字 b.txt'; mv a.bin c.bin; ls; cls -l",
        tmp.path(),
    );
    let home = srv.home("alice");
    assert_eq!(
        sha256_file(&home.join("d 1/c.bin")),
        sha256_file(&tmp.path().join("a.bin"))
    );
    assert_eq!(
        std::fs::read(home.join("d 1/名字 b.txt")).unwrap(),
        b"hello lftp\n"
    );
    let out = lftp(&srv, "cd 'd 1'; cls -1", tmp.path());
    let names = String::from_utf8(out.stdout).unwrap();
    assert!(
        names.contains("c.bin") && names.contains("名字 b.txt") && names.contains("sub"),
        "{names}"
    );
    // Long listing parsed by lftp: sizes come through.
    let out = lftp(&srv, "cd 'd 1'; cls -l --block-size=1 c.bin", tmp.path());
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains(&(4u64 << 20).to_string()));
    let dl = tmp.path().join("dl");
    std::fs::create_dir(&dl).unwrap();
    lftp(&srv, "mirror 'd 1' dl", tmp.path());
    assert_eq!(
        sha256_file(&dl.join("c.bin")),
        sha256_file(&tmp.path().join("a.bin"))
    );
    lftp(
        &srv,
        "cd 'd 1'; rm c.bin '名字 b.txt'; rmdir sub; cd ..; rmdir 'd 1'",
        tmp.path(),
    );
    assert!(!home.join("d 1").exists());
}

#[test]
fn lftp_resumes_uploads_and_downloads() {
    if !require("lftp") {
        return;
    }
    let srv = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let data = random_bytes(6 << 20, 22);
    // put -c: the server holds a prefix.
    std::fs::write(tmp.path().join("up.bin"), &data).unwrap();
    std::fs::write(srv.home("alice").join("up.bin"), &data[..2_000_001]).unwrap();
    lftp(&srv, "put -c up.bin", tmp.path());
    assert_eq!(
        sha256_file(&srv.home("alice").join("up.bin")),
        sha256(&data)
    );
    // get -c: the client holds a prefix.
    std::fs::write(srv.home("alice").join("down.bin"), &data).unwrap();
    std::fs::write(tmp.path().join("down.bin"), &data[..3_333_333]).unwrap();
    lftp(&srv, "get -c down.bin", tmp.path());
    assert_eq!(sha256_file(&tmp.path().join("down.bin")), sha256(&data));
}

const FTPLIB_SCRIPT: &str = r#"
import ftplib, hashlib, io, sys
host, port, user, pw, payload_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
payload = open(payload_path, "rb").read()
ftp = ftplib.FTP()
ftp.encoding = "utf-8"
ftp.connect(host, port, timeout=30)
ftp.login(user, pw)
assert ftp.pwd() == "/"
ftp.mkd("目录")
ftp.cwd("目录")
assert ftp.pwd() == "/目录"
name = "fïle \"q\".bin"
ftp.storbinary("STOR " + name, io.BytesIO(payload))
assert ftp.size(name) == len(payload), ftp.size(name)
buf = io.BytesIO()
ftp.retrbinary("RETR " + name, buf.write)
assert hashlib.sha256(buf.getvalue()).hexdigest() == hashlib.sha256(payload).hexdigest()
# Resume a download from an offset.
buf = io.BytesIO()
ftp.retrbinary("RETR " + name, buf.write, rest=1000)
assert buf.getvalue() == payload[1000:]
# Resume an upload: the server holds a prefix, REST + STOR sends the rest.
ftp.storbinary("STOR resumed.bin", io.BytesIO(payload[:4096]))
ftp.storbinary("STOR resumed.bin", io.BytesIO(payload[4096:]), rest=4096)
buf = io.BytesIO()
ftp.retrbinary("RETR resumed.bin", buf.write)
assert buf.getvalue() == payload
assert sorted(ftp.nlst()) == sorted([name, "resumed.bin"]), ftp.nlst()
facts = dict(ftp.mlsd())
assert facts[name]["type"] == "file" and int(facts[name]["size"]) == len(payload), facts
lines = []
ftp.retrlines("LIST", lines.append)
assert any(l.endswith(name) for l in lines), lines
ftp.rename("resumed.bin", "renamed.bin")
ftp.delete("renamed.bin")
# ABOR mid-download: ftplib sends it as urgent data with Telnet IP/DM.
conn = ftp.transfercmd("RETR " + name)
conn.recv(1024)
resp = ftp.abort()
# RFC 959: 426 for the aborted transfer, then 226 for ABOR itself.
assert resp.startswith("426"), resp
assert ftp.getresp().startswith("226")
conn.close()
ftp.voidcmd("NOOP")
ftp.delete(name)
ftp.cwd("..")
ftp.rmd("目录")
try:
    ftp.retrbinary("RETR nope", buf.write)
    raise SystemExit("RETR of a missing file succeeded")
except ftplib.error_perm as e:
    assert str(e).startswith("550"), e
ftp.quit()
print("ftplib ok")
"#;

#[test]
fn python_ftplib_session() {
    if !require("python3") {
        return;
    }
    let srv = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let payload = tmp.path().join("payload");
    std::fs::write(&payload, random_bytes(8 << 20, 31)).unwrap();
    let out = run(Command::new("python3").arg("-c").arg(FTPLIB_SCRIPT).args([
        "127.0.0.1",
        &srv.port().to_string(),
        ALICE.0,
        ALICE.1,
        payload.to_str().unwrap(),
    ]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ftplib ok"));
}
