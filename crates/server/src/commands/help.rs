//! HELP (RFC 959 §4.1.3): the commands this server understands.

use ferry_proto::Reply;

use super::Next;

const COMMANDS: &str = "ABOR ACCT ALLO APPE AUTH AVBL CCC CDUP CWD DELE EPRT EPSV FEAT HASH HELP HOST LIST MDTM MFMT MKD MLSD MLST MODE NLST NOOP OPTS PASS PASV PBSZ PORT PROT PWD QUIT RANG REIN REST RETR RMD RNFR RNTO SITE SIZE STAT STOR STOU STRU SYST TYPE USER XCRC XCUP XCWD XMD5 XMKD XPWD XRMD XSHA1 XSHA256 XSHA512";

pub(crate) fn handle(topic: Option<&str>) -> Next {
    if let Some(t) = topic {
        let verb = t.trim().to_ascii_uppercase();
        return if COMMANDS.split(' ').any(|c| c == verb) {
            Reply::new(
                214,
                format!("{verb} is supported; see RFC 959 and its extensions."),
            )
            .into()
        } else {
            Reply::new(502, format!("Unknown command {verb}.")).into()
        };
    }
    let mut lines = vec!["The following commands are recognized:".to_owned()];
    let words: Vec<&str> = COMMANDS.split(' ').collect();
    for row in words.chunks(10) {
        lines.push(format!(" {}", row.join(" ")));
    }
    lines.push("Help OK.".to_owned());
    Reply::multi(214, lines).into()
}
