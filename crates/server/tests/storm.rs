//! A small storm (issue 13) over real sockets: honest clients on 127.0.0.1 keep doing
//! verified STOR -> RETR cycles while attackers from 127.0.0.2 hold idle, slowloris and
//! endless-line connections, hoard passive ports and write garbage, and guessers from
//! 127.0.0.3 loop wrong passwords at the honest account and others. No honest cycle may fail
//! and the server must still log a fresh client in afterwards. Timings are not asserted here:
//! speed is what `scripts/storm` measures.

use std::time::Duration;

use ferry_testkit::storm::{run_storm, StormConfig, StormCounts};
use ferry_testkit::TestServer;

#[test]
fn honest_clients_get_through_a_small_storm() {
    let server = TestServer::builder()
        .user("honest", "honest-pass")
        .user("mallory", "mallory-pass")
        .start();
    let mut cfg = StormConfig::new(server.addr, ("honest", "honest-pass"));
    cfg.counts = StormCounts {
        idle: 20,
        slowloris: 20,
        long_lines: 4,
        pasv_hoarders: 6,
        garbage: 6,
        guessers: 6,
        honest: 3,
    };
    cfg.attacker_account = Some(("mallory".into(), "mallory-pass".into()));
    cfg.duration = Duration::from_secs(12);
    cfg.ramp = Duration::from_secs(1);
    cfg.settle = Duration::from_millis(500);
    cfg.file_size = 1 << 20;
    cfg.slowloris_interval = Duration::from_millis(200);
    cfg.long_line_pause = Duration::from_millis(200);
    cfg.op_timeout = Duration::from_secs(30);
    let report = run_storm(cfg).expect("storm");
    eprintln!("{}", report.markdown());

    assert_eq!(
        report.honest_failed, 0,
        "honest failures: {:?}",
        report.honest_errors
    );
    assert!(report.honest_ok > 0, "no honest cycle completed");
    assert!(
        report.probe.samples > 0,
        "the NOOP probe never got an answer"
    );
    assert!(
        report.final_login_ok,
        "no fresh login after the storm: {:?}",
        report.final_login_error
    );
    // The storm happened: attackers got in (before any ban, which takes their offences), and
    // no guess logged in.
    let a = &report.attack;
    assert!(a.greeted > 0, "no attacker reached the server: {a:?}");
    for (ip, g) in &report.guesses {
        assert_eq!(g.accepted, 0, "a wrong password from {ip} logged in");
        assert!(
            g.verified + g.refused > 0,
            "no guess from {ip} was answered"
        );
    }
    // The server is still whole: a plain session works, and so does a transfer in it.
    let mut c = server.login(("honest", "honest-pass"));
    c.stor("after-storm.bin", b"still here");
    assert_eq!(c.retr("after-storm.bin"), b"still here");
}
