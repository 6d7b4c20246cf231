//! One file per FTP verb; this module only routes. Each handler opens with the RFC clause it
//! implements and returns the reply to send (transfer commands send their `150` themselves and
//! leave the final reply to the transfer task).

use std::io;

use ferry_proto::{Command, Reply};

use crate::session::Session;

mod abor;
mod acct;
mod allo;
mod appe;
mod auth;
mod avbl;
mod cdup;
mod cwd;
mod dele;
mod eprt;
mod epsv;
mod feat;
mod hash;
mod help;
mod host;
mod list;
mod mdtm;
mod mfmt;
mod mkd;
mod mlsd;
mod mlst;
mod mode;
mod nlst;
mod noop;
mod opts;
mod pass;
mod pasv;
mod pbsz;
mod port;
mod prot;
mod pwd;
mod quit;
mod rang;
mod rein;
mod rest;
mod retr;
mod rmd;
mod rnfr;
mod rnto;
mod site;
mod site_exec;
mod site_register;
mod size;
mod stat;
mod stor;
mod stou;
mod stru;
mod syst;
mod type_;
mod user;
mod xhash;

pub(crate) use site_register::Registration;

/// What the session does after a command.
pub(crate) enum Next {
    Reply(Reply),
    /// The handler already replied (a transfer started with `150`).
    Silent,
    /// Reply, then close the control connection.
    Close(Reply),
    /// Reply (`234`), then start a TLS handshake on the control connection.
    StartTls(Reply),
}

impl From<Reply> for Next {
    fn from(r: Reply) -> Next {
        Next::Reply(r)
    }
}

impl From<Result<Reply, Reply>> for Next {
    fn from(r: Result<Reply, Reply>) -> Next {
        Next::Reply(r.unwrap_or_else(|e| e))
    }
}

/// Routes a parsed command to its handler. REST and RANG are consumed here by every transfer
/// command (and RANG by HASH), success or not, so a stale offset or range can never leak into
/// a later transfer.
pub(crate) async fn dispatch(s: &mut Session, cmd: Command) -> io::Result<Next> {
    if matches!(
        cmd,
        Command::Retr(_)
            | Command::Stor(_)
            | Command::Stou(_)
            | Command::Appe(_)
            | Command::List(_)
            | Command::Nlst(_)
            | Command::Mlsd(_)
    ) {
        let offset = s.rest.take();
        let range = s.range.take();
        return match cmd {
            Command::Retr(p) => retr::handle(s, &p, offset.unwrap_or(0), range).await,
            Command::Stor(p) => stor::handle(s, &p, offset, range).await,
            Command::Stou(p) => stou::handle(s, p.as_deref()).await,
            Command::Appe(p) => appe::handle(s, &p).await,
            Command::List(p) => list::handle(s, p.as_deref()).await,
            Command::Nlst(p) => nlst::handle(s, p.as_deref()).await,
            Command::Mlsd(p) => mlsd::handle(s, p.as_deref()).await,
            _ => unreachable!("filtered above"),
        };
    }
    Ok(match cmd {
        Command::User(name) => user::handle(s, &name).await,
        Command::Pass(pw) => pass::handle(s, &pw).await,
        Command::Acct(_) => acct::handle(),
        Command::Quit => quit::handle(),
        Command::Noop => noop::handle(),
        Command::Syst => syst::handle(),
        Command::Feat => feat::handle(s),
        Command::Opts(a) => opts::handle(s, &a),
        Command::Help(a) => help::handle(a.as_deref()),
        Command::Stat(a) => stat::handle(s, a.as_deref()).await,
        Command::Rein => rein::handle(s),
        Command::Host(h) => host::handle(s, &h),
        Command::Auth(m) => auth::handle(s, &m),
        Command::Pbsz(a) => pbsz::handle(s, &a),
        Command::Prot(a) => prot::handle(s, &a),
        Command::Ccc => auth::ccc(s),
        Command::Pwd => pwd::handle(s),
        Command::Cwd(p) => cwd::handle(s, &p).await,
        Command::Cdup => cdup::handle(s).await,
        Command::Mkd(p) => mkd::handle(s, &p).await,
        Command::Rmd(p) => rmd::handle(s, &p).await,
        Command::Dele(p) => dele::handle(s, &p).await,
        Command::Rnfr(p) => rnfr::handle(s, &p).await,
        Command::Rnto(p) => rnto::handle(s, &p).await,
        Command::Mlst(p) => mlst::handle(s, p.as_deref()).await,
        Command::Size(p) => size::handle(s, &p).await,
        Command::Mdtm(p) => mdtm::handle(s, &p).await,
        Command::Mfmt { mtime, path } => mfmt::handle(s, mtime, &path).await,
        Command::Rest(n) => rest::handle(s, n),
        Command::Allo(n) => allo::handle(s, n).await,
        Command::Avbl(p) => avbl::handle(s, p.as_deref()).await,
        Command::Abor => abor::handle(),
        Command::Pasv => pasv::handle(s).await,
        Command::Epsv { all, protocol } => epsv::handle(s, all, protocol).await,
        Command::Port(a) => port::handle(s, std::net::SocketAddr::V4(a)),
        Command::Eprt(a) => eprt::handle(s, a),
        Command::Type(t) => type_::handle(s, t),
        Command::Mode(m) => mode::handle(m),
        Command::Stru(c) => stru::handle(c),
        Command::Site(a) => site::handle(s, &a).await,
        Command::Hash(p) => {
            let range = s.range.take();
            hash::handle(s, &p, range).await
        }
        Command::Rang { start, end } => rang::handle(s, start, end),
        Command::XHash { algo, path, range } => xhash::handle(s, algo, &path, range).await,
        Command::Unknown(v) => Reply::new(500, format!("Unknown command {v}.")).into(),
        Command::Retr(_)
        | Command::Stor(_)
        | Command::Stou(_)
        | Command::Appe(_)
        | Command::List(_)
        | Command::Nlst(_)
        | Command::Mlsd(_) => {
            unreachable!("handled above")
        }
    })
}
