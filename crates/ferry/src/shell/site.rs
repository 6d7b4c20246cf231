//! `site ARGS`: a SITE command passed on as typed; `site exec NAME [ARGS]` runs one of the
//! admin-listed commands and prints its output as `ferry site exec` does.

use ferry_client::{Error, Result};

use super::Shell;
use crate::print;
use crate::words::Word;

pub async fn site(shell: &mut Shell, words: &[Word]) -> Result<()> {
    let args: Vec<String> = words.iter().map(|w| w.text.clone()).collect();
    if args.is_empty() {
        return Err(Error::Usage(
            "site: missing arguments (try site help)".into(),
        ));
    }
    if args[0].eq_ignore_ascii_case("exec") {
        let name = args
            .get(1)
            .ok_or_else(|| Error::Usage("site exec: missing command name".into()))?;
        let out = shell.client().await?.site_exec(name, &args[2..]).await?;
        print::exec_output(&out);
        return Ok(());
    }
    let line = args.join(" ");
    let r = shell.client().await?.quote(&format!("SITE {line}")).await?;
    print::reply(&r);
    Ok(())
}
