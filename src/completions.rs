//! `dynashift completions SHELL` and `dynashift man`: the command line's own description, as a
//! shell completion script (clap_complete) or a roff manual page (clap_mangen), so they can never
//! disagree with the flags the binary accepts.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Cli;

/// The name completions are registered under: the installed binary's.
const BINARY: &str = "dynashift";

/// Writes the completion script for `shell` to `out`.
pub fn write_completions(shell: clap_complete::Shell, out: &mut dyn Write) {
    clap_complete::generate(shell, &mut Cli::command(), BINARY, out);
}

/// Writes the manual page (section 1, roff) to `out`.
pub fn write_man_page(out: &mut dyn Write) -> std::io::Result<()> {
    clap_mangen::Man::new(Cli::command()).render(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bash_completion_knows_the_subcommands_and_flags() {
        let mut script = Vec::new();
        write_completions(clap_complete::Shell::Bash, &mut script);
        let script = String::from_utf8(script).unwrap();
        assert!(script.contains("_dynashift()"), "{script}");
        for word in ["--headless", "init", "completions", "--aws"] {
            assert!(script.contains(word), "{word} missing");
        }
    }

    #[test]
    fn the_man_page_is_roff_with_the_exit_codes() {
        let mut page = Vec::new();
        write_man_page(&mut page).unwrap();
        let page = String::from_utf8(page).unwrap();
        assert!(page.starts_with(".ie") || page.contains(".TH dynashift 1"), "{page}");
        assert!(page.contains("Exit codes") && page.contains("DYNASHIFT_LOG"), "{page}");
    }
}
