//! The engine against a real ferryd on loopback: transfers, resume and verification.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use ferry_client::{CancellationToken, Client, ClientOptions, Credentials, Silent};
use ferry_testkit::{random_bytes, sha256, sha256_file, TestServer, ALICE};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn alice(srv: &TestServer) -> Client {
    let opts = ClientOptions {
        timeout: Duration::from_secs(10),
        ..ClientOptions::default()
    };
    let creds = Credentials {
        user: ALICE.0.into(),
        password: ALICE.1.into(),
    };
    Client::connect(&srv.addr.to_string(), creds, opts)
        .await
        .unwrap()
}

#[test]
fn put_then_get_round_trips_and_verifies_sha256() {
    let srv = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let data = random_bytes(3 << 20, 7);
    let src = dir.path().join("src.bin");
    std::fs::write(&src, &data).unwrap();
    rt().block_on(async {
        let mut c = alice(&srv).await;
        let cancel = CancellationToken::new();
        let up = c.put_file(&src, "/up.bin", &Silent, &cancel).await.unwrap();
        assert_eq!(up.bytes, data.len() as u64);
        assert_eq!(up.verified, Some(ferry_proto::hash::HashAlgo::Sha256));
        let dst = dir.path().join("dst.bin");
        let down = c.get_file("/up.bin", &dst, &Silent, &cancel).await.unwrap();
        assert_eq!(down.bytes, data.len() as u64);
        assert!(down.verified.is_some());
        assert_eq!(sha256_file(&dst), sha256(&data));
        assert!(!dir.path().join("dst.bin.part").exists());
        // A second get finds the identical file and skips it.
        let again = c.get_file("/up.bin", &dst, &Silent, &cancel).await.unwrap();
        assert!(again.skipped);
        c.quit().await;
    });
    assert_eq!(
        sha256_file(&srv.home("alice").join("up.bin")),
        sha256(&data)
    );
}

#[test]
fn listing_and_directory_commands() {
    let srv = TestServer::start();
    std::fs::write(srv.home("alice").join("é.txt"), b"hi").unwrap();
    rt().block_on(async {
        let mut c = alice(&srv).await;
        let cancel = CancellationToken::new();
        c.mkdir("sub").await.unwrap();
        c.cwd("sub").await.unwrap();
        assert_eq!(c.pwd().await.unwrap(), "/sub");
        c.cdup().await.unwrap();
        let names: Vec<String> = c
            .list("", &cancel)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["sub", "é.txt"]);
        let e = c.stat("é.txt").await.unwrap().unwrap();
        assert_eq!(e.size, Some(2));
        c.rename("é.txt", "sub/ü.txt").await.unwrap();
        assert_eq!(c.names("sub", &cancel).await.unwrap(), ["ü.txt"]);
        c.remove_tree("sub", &cancel).await.unwrap();
        assert!(c.list("", &cancel).await.unwrap().is_empty());
    });
}
