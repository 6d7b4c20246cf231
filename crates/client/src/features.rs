//! What the server announces in its FEAT reply (RFC 2389): the client only uses an extension
//! the server lists, so it never depends on a command failing gracefully.

use ferry_proto::hash::HashAlgo;
use ferry_proto::Reply;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Features {
    /// Upper-cased feature names (`MLST`, `EPSV`, `REST`, ...).
    names: Vec<String>,
    /// The algorithms of the `HASH` line, in the server's order.
    pub hash_algos: Vec<HashAlgo>,
    /// The algorithm the `HASH` line marks as selected (`*`).
    pub hash_selected: Option<HashAlgo>,
    /// `REST STREAM` is listed: REST before STOR and RETR is understood.
    pub rest_stream: bool,
    /// The facts of the `MLST` line, lower-cased, each with whether it is on (`*`).
    pub mlst_facts: Vec<(String, bool)>,
}

impl Features {
    /// From a `211` FEAT reply; anything else (a `500` from an old server) means none.
    pub fn parse(reply: &Reply) -> Features {
        let mut f = Features::default();
        if reply.code != 211 || reply.lines.len() < 2 {
            return f;
        }
        for line in &reply.lines[1..reply.lines.len() - 1] {
            let line = line.trim();
            let (name, args) = line.split_once(' ').unwrap_or((line, ""));
            let name = name.to_ascii_uppercase();
            if name == "HASH" {
                for a in args.split(';') {
                    let starred = a.ends_with('*');
                    if let Some(algo) = HashAlgo::parse(a.trim_end_matches('*')) {
                        f.hash_algos.push(algo);
                        if starred {
                            f.hash_selected = Some(algo);
                        }
                    }
                }
            }
            if name == "MLST" {
                for fact in args.split(';').map(str::trim).filter(|f| !f.is_empty()) {
                    let on = fact.ends_with('*');
                    f.mlst_facts
                        .push((fact.trim_end_matches('*').to_ascii_lowercase(), on));
                }
            }
            if name == "REST" && args.trim().eq_ignore_ascii_case("STREAM") {
                f.rest_stream = true;
            }
            if !name.is_empty() {
                f.names.push(name);
            }
        }
        f
    }

    /// The `OPTS MLST` argument that turns on `unix.mode` (with the facts the client reads),
    /// when the server offers it but has it off: pyftpdlib lists no mode otherwise.
    pub fn mlst_opts_for_mode(&self) -> Option<String> {
        let offered = |f: &str| self.mlst_facts.iter().find(|(n, _)| n == f);
        if !matches!(offered("unix.mode"), Some((_, false))) {
            return None;
        }
        let wanted = ["type", "size", "modify", "perm", "unix.mode"];
        let facts: String = wanted
            .iter()
            .filter(|f| offered(f).is_some())
            .map(|f| format!("{f};"))
            .collect();
        Some(format!("OPTS MLST {facts}"))
    }

    pub fn has(&self, name: &str) -> bool {
        self.names.iter().any(|n| n.eq_ignore_ascii_case(name))
    }

    /// Built for tests and for servers configured by hand.
    pub fn from_names(names: &[&str]) -> Features {
        Features {
            names: names.iter().map(|n| n.to_ascii_uppercase()).collect(),
            ..Features::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ferry_feat_reply() {
        let lines = [
            "Features:",
            " EPSV",
            " HASH SHA-256*;SHA-512;SHA-1;MD5;CRC32",
            " MLST type*;size*;modify*;",
            " RANG STREAM",
            " REST STREAM",
            " XSHA1",
            "End",
        ];
        let f = Features::parse(&Reply::multi(
            211,
            lines.iter().map(|s| s.to_string()).collect(),
        ));
        assert!(f.has("mlst") && f.has("EPSV") && f.has("RANG") && f.has("XSHA1"));
        assert!(!f.has("XSHA256"));
        assert!(f.rest_stream);
        assert_eq!(f.hash_algos.len(), 5);
        assert_eq!(f.hash_selected, Some(HashAlgo::Sha256));
        assert_eq!(f.mlst_facts[0], ("type".to_owned(), true));
        assert_eq!(f.mlst_facts.len(), 3);
        assert_eq!(Features::parse(&Reply::new(500, "no")), Features::default());
        assert_eq!(f.mlst_opts_for_mode(), None, "Ferry lists no unix.mode");
        let py = Features::parse(&Reply::multi(
            211,
            [
                "Features supported:",
                " MLST type*;perm*;size*;modify*;unique*;unix.mode;unix.uid;unix.gid;",
                "End FEAT.",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        ));
        assert_eq!(
            py.mlst_opts_for_mode().as_deref(),
            Some("OPTS MLST type;size;modify;perm;unix.mode;")
        );
    }
}
