//! A scriptable hostile FTP server, for testing that a client treats every server as an
//! attacker: it answers each command from a script (any bytes at all, listings that name
//! `..` or `a/b`, lying `SIZE`/`HASH`, endless replies, a `150` followed by nothing), and
//! does the plumbing (login, `PASV`/`EPSV`, data connections) itself.
//!
//! It runs on its own thread and runtime on `127.0.0.1:0`, one task per connection, and
//! records every command line it receives.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// What the server does with one command.
#[derive(Clone, Debug)]
pub enum Answer {
    /// These bytes, exactly (the script writes the reply in full, CRLFs included).
    Raw(Vec<u8>),
    /// `150`, then these bytes on the data connection the client opened, then `226`.
    Data(Vec<u8>),
    /// `150`, then `chunk` repeated on the data connection until `total` bytes were sent or
    /// the client closed it, then `226`.
    Endless { chunk: Vec<u8>, total: u64 },
    /// `150`, and then nothing on either connection, until the client gives up.
    Stall,
    /// The control connection is closed at once.
    Close,
}

impl Answer {
    /// A one-line reply (`code text`).
    pub fn reply(code: u16, text: &str) -> Answer {
        Answer::Raw(format!("{code} {text}\r\n").into_bytes())
    }
}

type Script = dyn Fn(&str, &str) -> Option<Answer> + Send + Sync;

pub struct HostileServer {
    addr: SocketAddr,
    commands: Arc<Mutex<Vec<String>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HostileServer {
    /// Starts a server whose `script(VERB, argument)` answers each command (the verb in upper
    /// case); `None` falls back to a plain, obliging server (see [`default_answer`]).
    pub fn start(
        script: impl Fn(&str, &str) -> Option<Answer> + Send + Sync + 'static,
    ) -> HostileServer {
        let script: Arc<Script> = Arc::new(script);
        let commands = Arc::new(Mutex::new(Vec::new()));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let seen = Arc::clone(&commands);
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                addr_tx.send(listener.local_addr().expect("addr")).ok();
                let accept = async {
                    loop {
                        let Ok((sock, _)) = listener.accept().await else {
                            continue;
                        };
                        let (script, seen) = (Arc::clone(&script), Arc::clone(&seen));
                        tokio::spawn(async move {
                            let _ = session(sock, script, seen).await;
                        });
                    }
                };
                tokio::select! {
                    _ = accept => {}
                    _ = stop_rx => {}
                }
            });
            rt.shutdown_timeout(Duration::from_millis(100));
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("hostile server started");
        HostileServer {
            addr,
            commands,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// A server holding a fixed tree: `listings` maps a directory (`""` for the root, else
    /// `a/b`, no leading slash) to its MLSD body, `files` maps a path to its bytes; `SIZE` and
    /// `RETR` serve those. `script` is asked first, for the lies.
    pub fn with_tree(
        listings: &[(&str, &str)],
        files: &[(&str, &[u8])],
        script: impl Fn(&str, &str) -> Option<Answer> + Send + Sync + 'static,
    ) -> HostileServer {
        let listings: HashMap<String, Vec<u8>> = listings
            .iter()
            .map(|(d, body)| (d.to_string(), body.as_bytes().to_vec()))
            .collect();
        let files: HashMap<String, Vec<u8>> = files
            .iter()
            .map(|(p, b)| (p.to_string(), b.to_vec()))
            .collect();
        HostileServer::start(move |verb, arg| {
            if let Some(a) = script(verb, arg) {
                return Some(a);
            }
            let key = arg.trim_start_matches('/').trim_end_matches('/');
            match verb {
                "MLSD" | "LIST" | "NLST" => Some(match listings.get(key) {
                    Some(body) => Answer::Data(body.clone()),
                    None => Answer::reply(550, "No such directory."),
                }),
                "SIZE" => Some(match files.get(key) {
                    Some(b) => Answer::reply(213, &b.len().to_string()),
                    None => Answer::reply(550, "No such file."),
                }),
                "RETR" => Some(match files.get(key) {
                    Some(b) => Answer::Data(b.clone()),
                    None => Answer::reply(550, "No such file."),
                }),
                "CWD" => Some(match listings.contains_key(key) {
                    true => Answer::reply(250, "OK."),
                    false => Answer::reply(550, "No such directory."),
                }),
                _ => None,
            }
        })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `ftp://u:p@127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("ftp://u:p@127.0.0.1:{}{path}", self.port())
    }

    /// Every command line received so far, in order.
    pub fn commands(&self) -> Vec<String> {
        self.commands
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What a plain server answers when the script has nothing to say: logins succeed, FEAT
/// offers MLST, SIZE and MDTM (no digest), navigation succeeds, the rest is `502`.
pub fn default_answer(verb: &str) -> Answer {
    match verb {
        "USER" => Answer::reply(331, "Password required."),
        "PASS" => Answer::reply(230, "Logged in."),
        "SYST" => Answer::reply(215, "UNIX Type: L8"),
        "FEAT" => Answer::Raw(
            b"211-Features:\r\n MLST type*;size*;modify*;\r\n SIZE\r\n MDTM\r\n UTF8\r\n211 End\r\n"
                .to_vec(),
        ),
        "PWD" => Answer::reply(257, "\"/\" is the current directory."),
        "CWD" | "CDUP" => Answer::reply(250, "OK."),
        "TYPE" | "OPTS" | "MODE" | "STRU" | "NOOP" => Answer::reply(200, "OK."),
        "REST" => Answer::reply(350, "Restarting."),
        "ABOR" => Answer::reply(226, "Aborted."),
        "QUIT" => Answer::reply(221, "Bye."),
        _ => Answer::reply(502, "Not implemented."),
    }
}

async fn session(
    sock: TcpStream,
    script: Arc<Script>,
    seen: Arc<Mutex<Vec<String>>>,
) -> std::io::Result<()> {
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::new(r);
    w.write_all(b"220 hostile test server\r\n").await?;
    let mut passive: Option<TcpListener> = None;
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let text = line.trim_end_matches(['\r', '\n']).to_owned();
        seen.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(text.clone());
        let (verb, arg) = match text.split_once(' ') {
            Some((v, a)) => (v.to_ascii_uppercase(), a.to_owned()),
            None => (text.to_ascii_uppercase(), String::new()),
        };
        // Passive mode is plumbing, answered here unless the script lies about it.
        let scripted = script(&verb, &arg);
        let answer = match (scripted, verb.as_str()) {
            (Some(a), _) => a,
            (None, "PASV" | "EPSV") => {
                let l = TcpListener::bind("127.0.0.1:0").await?;
                let port = l.local_addr()?.port();
                passive = Some(l);
                let text = if verb == "PASV" {
                    format!(
                        "227 Entering Passive Mode (127,0,0,1,{},{}).\r\n",
                        port >> 8,
                        port & 0xff
                    )
                } else {
                    format!("229 Entering Extended Passive Mode (|||{port}|)\r\n")
                };
                Answer::Raw(text.into_bytes())
            }
            (None, "STOR" | "APPE") => {
                w.write_all(b"150 Send it.\r\n").await?;
                if let Some(mut data) = accept(&mut passive).await {
                    let mut sink = Vec::new();
                    let _ = data.read_to_end(&mut sink).await;
                }
                Answer::reply(226, "Stored.")
            }
            (None, v) => default_answer(v),
        };
        match answer {
            Answer::Raw(bytes) => w.write_all(&bytes).await?,
            Answer::Data(bytes) => {
                w.write_all(b"150 Here it comes.\r\n").await?;
                if let Some(mut data) = accept(&mut passive).await {
                    let _ = data.write_all(&bytes).await;
                    let _ = data.shutdown().await;
                }
                w.write_all(b"226 Done.\r\n").await?;
            }
            Answer::Endless { chunk, total } => {
                w.write_all(b"150 Here it comes, all of it.\r\n").await?;
                if let Some(mut data) = accept(&mut passive).await {
                    let mut sent = 0u64;
                    while sent < total && !chunk.is_empty() {
                        if data.write_all(&chunk).await.is_err() {
                            break;
                        }
                        sent += chunk.len() as u64;
                    }
                    let _ = data.shutdown().await;
                }
                w.write_all(b"226 Done.\r\n").await?;
            }
            Answer::Stall => {
                w.write_all(b"150 Here it comes (it never will).\r\n")
                    .await?;
                // Holds the data connection open and silent; the client must time out.
                let _held = accept(&mut passive).await;
                let mut rest = Vec::new();
                let _ =
                    tokio::time::timeout(Duration::from_secs(120), r.read_to_end(&mut rest)).await;
                return Ok(());
            }
            Answer::Close => return Ok(()),
        }
        if verb == "QUIT" {
            return Ok(());
        }
    }
}

/// The client's connection to the pending passive listener (at most 10 s).
async fn accept(passive: &mut Option<TcpListener>) -> Option<TcpStream> {
    let l = passive.take()?;
    match tokio::time::timeout(Duration::from_secs(10), l.accept()).await {
        Ok(Ok((s, _))) => Some(s),
        _ => None,
    }
}
