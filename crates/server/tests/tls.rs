//! FTPS with real clients: Python's ftplib (FTP_TLS), curl (explicit and implicit), lftp
//! (with and without certificate verification), and raw exchanges for the policies, the
//! pipelining defence and ALPN. Files are compared by SHA-256.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::process::{Command, Output};

use ferry_server::{SessionReuse, TlsMode};
use ferry_testkit::{random_bytes, require, sha256_file, RawFtp, TestServer, ALICE, BOB};

fn tls_server(mode: TlsMode) -> TestServer {
    TestServer::builder()
        .user(ALICE.0, ALICE.1)
        .user(BOB.0, BOB.1)
        .config(|c| {
            c.tls = Some(mode);
            c.implicit_tls_listen = Some("127.0.0.1:0".parse().unwrap());
        })
        .start()
}

fn run_python(script: &str, args: &[String]) -> Output {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    out
}

fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// ftplib's FTP_TLS with an unverified context (self-signed certificate); `mode` selects a
/// scenario inside the script.
const FTPLIB_TLS: &str = r#"
import ftplib, hashlib, io, ssl, sys
port, mode, payload_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE

class ReusingFTP_TLS(ftplib.FTP_TLS):
    """Resumes the control connection's TLS session on data connections (as curl does)."""
    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
        return conn, size

cls = ReusingFTP_TLS if mode == "reuse" else ftplib.FTP_TLS
ftp = cls(context=ctx, timeout=30)
ftp.connect("127.0.0.1", port)
ftp.auth()
ftp.login("alice", "secret")
ftp.prot_p()
payload = open(payload_path, "rb").read()
try:
    ftp.storbinary("STOR tls.bin", io.BytesIO(payload))
except ftplib.error_perm as e:
    print("REFUSED", e)
    sys.exit(0)
except (OSError, ssl.SSLError):
    # The server closed the data connection; its reason is the pending control reply.
    try:
        ftp.getresp()
    except ftplib.error_perm as e:
        print("REFUSED", e)
        sys.exit(0)
    raise
buf = io.BytesIO()
ftp.retrbinary("RETR tls.bin", buf.write)
assert hashlib.sha256(buf.getvalue()).hexdigest() == hashlib.sha256(payload).hexdigest()
assert "tls.bin" in ftp.nlst()
facts = dict(ftp.mlsd())
assert int(facts["tls.bin"]["size"]) == len(payload)
lines = []
ftp.retrlines("LIST", lines.append)
assert any(l.endswith("tls.bin") for l in lines), lines
print("CIPHER", ftp.sock.cipher())
ftp.quit()
print("OK")
"#;

#[test]
fn python_ftplib_ftp_tls_uploads_downloads_and_lists() {
    if !require("python3") {
        return;
    }
    let srv = tls_server(TlsMode::Optional);
    let tmp = tempfile::tempdir().unwrap();
    let payload = tmp.path().join("p.bin");
    std::fs::write(&payload, random_bytes(3 << 20, 1)).unwrap();
    let out = run_python(
        FTPLIB_TLS,
        &[
            srv.port().to_string(),
            "plain".into(),
            payload.display().to_string(),
        ],
    );
    assert_ok(&out, "ftplib FTP_TLS");
    assert!(String::from_utf8_lossy(&out.stdout).contains("OK"));
    assert_eq!(
        sha256_file(&srv.home("alice").join("tls.bin")),
        sha256_file(&payload)
    );
}

#[test]
fn feat_advertises_tls_and_pbsz_prot_follow_the_rfc_order() {
    let srv = tls_server(TlsMode::Optional);
    let mut c = RawFtp::connect(srv.addr);
    let feat = c.expect("FEAT", 211).text();
    for f in [" AUTH TLS", " PBSZ", " PROT"] {
        assert!(feat.contains(f), "{feat}");
    }
    c.expect("PBSZ 0", 503);
    c.expect("PROT P", 503);
    c.expect("AUTH KERBEROS", 504);
    c.expect("CCC", 534);
    // Without TLS configured there is no AUTH.
    let plain = TestServer::start();
    let mut p = RawFtp::connect(plain.addr);
    assert!(!p.expect("FEAT", 211).text().contains("AUTH TLS"));
    p.expect("AUTH TLS", 502);
}

fn curl_ok(args: &[&str]) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "60"])
        .args(args)
        .output()
        .unwrap();
    assert_ok(&out, &format!("curl {args:?}"));
}

#[test]
fn curl_explicit_and_implicit_ftps() {
    if !require("curl") {
        return;
    }
    let srv = tls_server(TlsMode::Optional);
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src.bin");
    std::fs::write(&src, random_bytes(4 << 20, 2)).unwrap();
    let explicit = format!("ftp://alice:secret@127.0.0.1:{}/", srv.port());
    curl_ok(&[
        "--ssl-reqd",
        "-k",
        "-T",
        src.to_str().unwrap(),
        &format!("{explicit}up.bin"),
    ]);
    assert_eq!(
        sha256_file(&srv.home("alice").join("up.bin")),
        sha256_file(&src)
    );
    let dst = tmp.path().join("dst.bin");
    curl_ok(&[
        "--ssl-reqd",
        "-k",
        "-o",
        dst.to_str().unwrap(),
        &format!("{explicit}up.bin"),
    ]);
    assert_eq!(sha256_file(&dst), sha256_file(&src));
    // Implicit FTPS on its own listener.
    let implicit = format!(
        "ftps://alice:secret@127.0.0.1:{}/",
        srv.implicit_tls_addr.unwrap().port()
    );
    let dst2 = tmp.path().join("dst2.bin");
    curl_ok(&[
        "-k",
        "-o",
        dst2.to_str().unwrap(),
        &format!("{implicit}up.bin"),
    ]);
    assert_eq!(sha256_file(&dst2), sha256_file(&src));
    curl_ok(&[
        "-k",
        "-T",
        src.to_str().unwrap(),
        &format!("{implicit}up2.bin"),
    ]);
    assert_eq!(
        sha256_file(&srv.home("alice").join("up2.bin")),
        sha256_file(&src)
    );
    // The certificate verifies against the generated CA file (it names 127.0.0.1).
    curl_ok(&[
        "--ssl-reqd",
        "--cacert",
        srv.tls_cert_path().to_str().unwrap(),
        "-o",
        "/dev/null",
        &format!("{explicit}up.bin"),
    ]);
}

#[test]
fn lftp_with_and_without_certificate_verification() {
    if !require("lftp") {
        return;
    }
    let srv = tls_server(TlsMode::Optional);
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("l.bin"), random_bytes(2 << 20, 3)).unwrap();
    let open = format!("open -u alice,secret -p {} 127.0.0.1", srv.port());
    for settings in [
        "set ssl:verify-certificate no".to_owned(),
        format!(
            "set ssl:ca-file {}; set ssl:verify-certificate yes",
            srv.tls_cert_path().display()
        ),
    ] {
        let script = format!(
            "set ftp:ssl-force yes; set ftp:ssl-protect-data yes; set net:max-retries 1; set cmd:fail-exit yes; {settings}; {open}; put l.bin; get l.bin -o back.bin; rm l.bin"
        );
        let out = Command::new("lftp")
            .arg("-c")
            .arg(&script)
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert_ok(&out, &format!("lftp ({settings})"));
        assert_eq!(
            sha256_file(&tmp.path().join("back.bin")),
            sha256_file(&tmp.path().join("l.bin"))
        );
        std::fs::remove_file(tmp.path().join("back.bin")).unwrap();
    }
}

#[test]
fn required_tls_refuses_plaintext_login_and_clear_data() {
    let srv = tls_server(TlsMode::Required);
    let mut c = RawFtp::connect(srv.addr);
    let r = c.expect("USER alice", 530);
    assert!(r.text().contains("TLS"), "{r:?}");
    // Over TLS (Python): PROT C transfers are refused, PROT P ones work.
    if !require("python3") {
        return;
    }
    let script = r#"
import ftplib, io, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
ftp = ftplib.FTP_TLS(context=ctx, timeout=30)
ftp.connect("127.0.0.1", int(sys.argv[1])); ftp.auth(); ftp.login("alice", "secret")
ftp.prot_c()
try:
    ftp.storbinary("STOR clear.bin", io.BytesIO(b"x"))
    raise SystemExit("clear transfer accepted")
except ftplib.error_perm as e:
    assert str(e).startswith("521"), e
ftp.prot_p()
ftp.storbinary("STOR private.bin", io.BytesIO(b"secret data"))
ftp.quit()
print("OK")
"#;
    let out = run_python(script, &[srv.port().to_string()]);
    assert_ok(&out, "required policy");
    assert!(!srv.home("alice").join("clear.bin").exists());
    assert_eq!(
        std::fs::read(srv.home("alice").join("private.bin")).unwrap(),
        b"secret data"
    );
}

fn set_require_tls(srv: &TestServer, user: &str, value: Option<bool>) {
    srv.with_store(async |store: &ferry_store::Store| {
        let update = ferry_store::UserUpdate {
            require_tls: Some(value),
            ..Default::default()
        };
        store.update_user(user, update).await.unwrap();
    });
}

#[test]
fn per_user_tls_policy_overrides_the_server_both_ways() {
    // Server requires TLS, bob is exempt.
    let srv = tls_server(TlsMode::Required);
    set_require_tls(&srv, "bob", Some(false));
    let mut c = RawFtp::connect(srv.addr);
    c.expect("USER alice", 530);
    c.login(BOB.0, BOB.1);
    c.stor("plain.bin", b"allowed");
    // Server makes TLS optional, alice insists on it.
    let srv = tls_server(TlsMode::Optional);
    set_require_tls(&srv, "alice", Some(true));
    let mut c = RawFtp::connect(srv.addr);
    c.expect("USER alice", 530);
    c.login(BOB.0, BOB.1);
}

#[test]
fn session_reuse_required_refuses_fresh_data_handshakes_and_accepts_resumed_ones() {
    let srv = TestServer::builder()
        .user(ALICE.0, ALICE.1)
        .config(|c| {
            c.tls = Some(TlsMode::Optional);
            c.tls_session_reuse = SessionReuse::Require;
        })
        .start();
    let tmp = tempfile::tempdir().unwrap();
    let payload = tmp.path().join("p.bin");
    std::fs::write(&payload, random_bytes(1 << 20, 4)).unwrap();
    if require("python3") {
        // Plain ftplib cannot reuse the session: refused with a clear reply.
        let out = run_python(
            FTPLIB_TLS,
            &[
                srv.port().to_string(),
                "plain".into(),
                payload.display().to_string(),
            ],
        );
        assert_ok(&out, "ftplib without reuse");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("REFUSED 522"), "{text}");
        // The same client resuming the control session's TLS session is accepted.
        let out = run_python(
            FTPLIB_TLS,
            &[
                srv.port().to_string(),
                "reuse".into(),
                payload.display().to_string(),
            ],
        );
        assert_ok(&out, "ftplib with session reuse");
        assert!(String::from_utf8_lossy(&out.stdout).contains("OK"));
        assert_eq!(
            sha256_file(&srv.home("alice").join("tls.bin")),
            sha256_file(&payload)
        );
    }
    if require("curl") {
        // curl resumes TLS sessions on data connections.
        curl_ok(&[
            "--ssl-reqd",
            "-k",
            "-T",
            payload.to_str().unwrap(),
            &format!("ftp://alice:secret@127.0.0.1:{}/curl.bin", srv.port()),
        ]);
        assert_eq!(
            sha256_file(&srv.home("alice").join("curl.bin")),
            sha256_file(&payload)
        );
    }
}

#[test]
fn commands_pipelined_after_auth_tls_are_discarded() {
    if !require("python3") {
        return;
    }
    let srv = tls_server(TlsMode::Optional);
    let script = r#"
import socket, ssl, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rb")
assert f.readline().startswith(b"220")
s.sendall(b"AUTH TLS\r\nUSER alice\r\n")
line = f.readline()
assert line.startswith(b"234"), line
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(s)
t.sendall(b"PASS secret\r\n")
reply = t.recv(200)
# Had the pipelined USER been executed, PASS would log in (230).
assert reply.startswith(b"503"), reply
t.sendall(b"USER alice\r\nPASS secret\r\n")
data = b""
while b"230" not in data:
    chunk = t.recv(200)
    assert chunk, data
    data += chunk
print("OK")
"#;
    let out = run_python(script, &[srv.port().to_string()]);
    assert_ok(&out, "pipelined AUTH TLS");
}

#[test]
fn alpn_other_than_ftp_is_refused() {
    if !require("python3") {
        return;
    }
    let srv = tls_server(TlsMode::Optional);
    let script = r#"
import socket, ssl, sys
port, proto = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=10)
f = s.makefile("rb")
f.readline()
s.sendall(b"AUTH TLS\r\n")
f.readline()
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols([proto])
try:
    t = ctx.wrap_socket(s, server_hostname="localhost")
    print("ACCEPTED", t.selected_alpn_protocol())
except ssl.SSLError as e:
    print("REFUSED", e)
"#;
    let h2 = run_python(script, &[srv.port().to_string(), "h2".into()]);
    assert_ok(&h2, "ALPN h2");
    assert!(
        String::from_utf8_lossy(&h2.stdout).starts_with("REFUSED"),
        "{}",
        String::from_utf8_lossy(&h2.stdout)
    );
    let ftp = run_python(script, &[srv.port().to_string(), "ftp".into()]);
    assert_ok(&ftp, "ALPN ftp");
    assert_eq!(String::from_utf8_lossy(&ftp.stdout).trim(), "ACCEPTED ftp");
    assert!(
        srv.metrics
            .tls_handshake_failures
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
}

fn bind_error(config: ferry_server::ServerConfig) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = ferry_store::Store::open_sqlite(&config.data_dir.join("ferry.db"))
            .await
            .unwrap();
        match ferry_server::Server::bind(config, store).await {
            Ok(_) => panic!("the server started with a bad certificate"),
            Err(e) => e.to_string(),
        }
    })
}

#[test]
fn certificate_problems_stop_startup_with_the_file_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let base = |cert: &std::path::Path, key: &std::path::Path| ferry_server::ServerConfig {
        data_dir: dir.to_path_buf(),
        listen: vec!["127.0.0.1:0".parse::<SocketAddr>().unwrap()],
        tls: Some(TlsMode::Optional),
        tls_cert: Some(cert.to_path_buf()),
        tls_key: Some(key.to_path_buf()),
        ..Default::default()
    };
    let one = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let two = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(dir.join("one.pem"), one.cert.pem()).unwrap();
    std::fs::write(dir.join("one.key"), one.key_pair.serialize_pem()).unwrap();
    std::fs::write(dir.join("two.key"), two.key_pair.serialize_pem()).unwrap();
    let missing = bind_error(base(&dir.join("nope.pem"), &dir.join("one.key")));
    assert!(missing.contains("nope.pem"), "{missing}");
    let wrong_key = bind_error(base(&dir.join("one.pem"), &dir.join("two.key")));
    assert!(
        wrong_key.contains("two.key") && wrong_key.contains("does not match"),
        "{wrong_key}"
    );
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2000, 1, 1);
    params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    let key = rcgen::KeyPair::generate().unwrap();
    let old = params.self_signed(&key).unwrap();
    std::fs::write(dir.join("old.pem"), old.pem()).unwrap();
    std::fs::write(dir.join("old.key"), key.serialize_pem()).unwrap();
    let expired = bind_error(base(&dir.join("old.pem"), &dir.join("old.key")));
    assert!(
        expired.contains("old.pem") && expired.contains("expired"),
        "{expired}"
    );
    std::fs::write(dir.join("garbage.pem"), b"not a certificate").unwrap();
    let garbage = bind_error(base(&dir.join("garbage.pem"), &dir.join("one.key")));
    assert!(garbage.contains("garbage.pem"), "{garbage}");
}

/// Handshakes on the implicit port with Python's ssl capped at `max` (e.g. "TLSv1_2");
/// prints the version agreed or "refused".
const TLS_VERSION_PROBE: &str = r#"
import socket, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.maximum_version = ssl.TLSVersion[sys.argv[2]]
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
try:
    print(ctx.wrap_socket(s).version())
except ssl.SSLError as e:
    print("refused", e)
"#;

#[test]
fn tls_min_version_refuses_older_clients() {
    if !require("python3") {
        return;
    }
    let probe = |srv: &TestServer, max: &str| {
        let out = run_python(
            TLS_VERSION_PROBE,
            &[
                srv.implicit_tls_addr.unwrap().port().to_string(),
                max.into(),
            ],
        );
        assert_ok(&out, "python ssl probe");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    // The default takes 1.2 and 1.3.
    let default = tls_server(TlsMode::Optional);
    assert_eq!(probe(&default, "TLSv1_2"), "TLSv1.2");
    assert_eq!(probe(&default, "TLSv1_3"), "TLSv1.3");
    let strict = TestServer::builder()
        .user(ALICE.0, ALICE.1)
        .config(|c| {
            c.tls = Some(TlsMode::Optional);
            c.implicit_tls_listen = Some("127.0.0.1:0".parse().unwrap());
            c.tls_min_version = ferry_server::TlsVersion::V1_3;
        })
        .start();
    assert!(probe(&strict, "TLSv1_2").starts_with("refused"));
    assert_eq!(probe(&strict, "TLSv1_3"), "TLSv1.3");
}

#[test]
fn tls_cipher_suites_restrict_the_choice_and_unknown_names_stop_startup() {
    if !require("python3") {
        return;
    }
    // Python prefers AES-256 in TLS 1.3; a server offering only AES-128 gets AES-128.
    let probe = TLS_VERSION_PROBE.replace(".version())", ".cipher()[0])");
    let srv = TestServer::builder()
        .user(ALICE.0, ALICE.1)
        .config(|c| {
            c.tls = Some(TlsMode::Optional);
            c.implicit_tls_listen = Some("127.0.0.1:0".parse().unwrap());
            c.tls_cipher_suites = vec!["TLS13_AES_128_GCM_SHA256".into()];
        })
        .start();
    let port = srv.implicit_tls_addr.unwrap().port().to_string();
    let out = run_python(&probe, &[port, "TLSv1_3".into()]);
    assert_ok(&out, "python ssl probe");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "TLS_AES_128_GCM_SHA256"
    );
    // The default set gives Python its first choice.
    let default = tls_server(TlsMode::Optional);
    let port = default.implicit_tls_addr.unwrap().port().to_string();
    let out = run_python(&probe, &[port, "TLSv1_3".into()]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "TLS_AES_256_GCM_SHA384"
    );
    // A weak or misspelt suite cannot be named.
    let dir = tempfile::tempdir().unwrap();
    let config = ferry_server::ServerConfig {
        data_dir: dir.path().to_path_buf(),
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        tls: Some(TlsMode::Optional),
        tls_cipher_suites: vec!["TLS_RSA_WITH_RC4_128_SHA".into()],
        ..Default::default()
    };
    let e = bind_error(config);
    assert!(
        e.contains("TLS_RSA_WITH_RC4_128_SHA") && e.contains("TLS13_AES_256_GCM_SHA384"),
        "{e}"
    );
}

/// A CA, and a client certificate it signed whose subject CN is `name`: (CA PEM, cert PEM,
/// key PEM).
fn client_certificate(name: &str) -> (String, String, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Ferry test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
    client.distinguished_name.push(DnType::CommonName, name);
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = client.signed_by(&key, &ca_cert, &ca_key).unwrap();
    (ca_cert.pem(), cert.pem(), key.serialize_pem())
}

fn curl_status(args: &[&str]) -> Output {
    assert!(require("curl"));
    Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_client_certificate_naming_the_user_logs_in_without_a_password() {
    let tmp = tempfile::tempdir().unwrap();
    let (ca, cert, key) = client_certificate(ALICE.0);
    let (ca_path, cert_path, key_path) = (
        tmp.path().join("ca.pem"),
        tmp.path().join("alice.pem"),
        tmp.path().join("alice.key"),
    );
    std::fs::write(&ca_path, ca).unwrap();
    std::fs::write(&cert_path, cert).unwrap();
    std::fs::write(&key_path, key).unwrap();
    let (cert_arg, key_arg) = (cert_path.to_str().unwrap(), key_path.to_str().unwrap());
    for policy in [
        ferry_server::ClientCertPolicy::Optional,
        ferry_server::ClientCertPolicy::Required,
    ] {
        let ca_path = ca_path.clone();
        let srv = TestServer::builder()
            .user(ALICE.0, ALICE.1)
            .user(BOB.0, BOB.1)
            .config(move |c| {
                c.tls = Some(TlsMode::Optional);
                c.tls_client_ca = Some(ca_path);
                c.tls_client_cert = policy;
            })
            .start();
        std::fs::write(srv.home(ALICE.0).join("hello.txt"), b"hi").unwrap();
        let by_cert = format!("ftp://{}@{}/hello.txt", ALICE.0, srv.addr);
        // The certificate alone logs alice in (232), for listing, download and upload.
        let out = curl_status(&[
            "--ssl-reqd",
            "-k",
            "--cert",
            cert_arg,
            "--key",
            key_arg,
            &by_cert,
        ]);
        assert!(
            out.status.success(),
            "{policy:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, b"hi");
        let up = format!("ftp://{}@{}/up.txt", ALICE.0, srv.addr);
        let out = curl_status(&[
            "--ssl-reqd",
            "-k",
            "--cert",
            cert_arg,
            "--key",
            key_arg,
            "-T",
            cert_arg,
            &up,
        ]);
        assert!(
            out.status.success(),
            "{policy:?} upload: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Alice's certificate is no key to Bob's account: a wrong password still fails.
        let bob = format!("ftp://{}:wrong@{}/", BOB.0, srv.addr);
        let out = curl_status(&[
            "--ssl-reqd",
            "-k",
            "--cert",
            cert_arg,
            "--key",
            key_arg,
            &bob,
        ]);
        assert!(
            !out.status.success(),
            "{policy:?}: bob logged in with alice's certificate"
        );
        // Without a certificate: a password as usual when optional, no handshake when required.
        let by_password = format!("{}/hello.txt", srv.url(ALICE));
        let out = curl_status(&["--ssl-reqd", "-k", &by_password]);
        match policy {
            ferry_server::ClientCertPolicy::Optional => assert!(
                out.status.success(),
                "password login: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
            ferry_server::ClientCertPolicy::Required => {
                assert!(
                    !out.status.success(),
                    "required: logged in without a certificate"
                )
            }
        }
        let out = curl_status(&["--ssl-reqd", "-k", &by_cert]);
        assert!(
            !out.status.success(),
            "{policy:?}: no certificate, no password, yet logged in"
        );
    }
}
