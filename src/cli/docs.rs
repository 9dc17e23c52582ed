//! What helps people find their way: `ssfpack completions SHELL`, `ssfpack man`, the long
//! `--version` (FFmpeg and x264 builds), and the "did you mean" of a mistyped subcommand.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, CommandFactory};

use super::Cli;

#[derive(Debug, Args)]
#[command(
    after_help = examples_help!("ssfpack completions bash > ~/.local/share/bash-completion/completions/ssfpack"),
    after_long_help = long_examples_help!(
        "ssfpack completions bash > ~/.local/share/bash-completion/completions/ssfpack",
        "ssfpack completions zsh > ~/.zfunc/_ssfpack        # with fpath+=~/.zfunc before compinit",
        "ssfpack completions fish > ~/.config/fish/completions/ssfpack.fish",
        "ssfpack completions powershell >> $PROFILE",
    )
)]
pub struct CompletionsArgs {
    /// The shell to write a completion script for (on stdout).
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
#[command(
    after_help = examples_help!("ssfpack man | man -l -", "sudo ssfpack man --out /usr/local/share/man/man1"),
    after_long_help = long_examples_help!(
        "ssfpack man | man -l -",
        "sudo ssfpack man --out /usr/local/share/man/man1 && man ssfpack-check",
        "ssfpack man --out ~/.local/share/man/man1",
    )
)]
pub struct ManArgs {
    /// Write `ssfpack.1` and one `ssfpack-COMMAND.1` per subcommand into this folder, instead of
    /// printing `ssfpack.1` on stdout.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub fn completions(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut cmd, "ssfpack", &mut out);
    out.flush().context("writing the completion script")?;
    Ok(ExitCode::SUCCESS)
}

pub fn man(args: ManArgs) -> anyhow::Result<ExitCode> {
    let cmd = Cli::command().long_version(long_version()).version(env!("CARGO_PKG_VERSION"));
    let Some(dir) = args.out else {
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut page).context("rendering the man page")?;
        std::io::stdout().lock().write_all(&page).context("writing the man page")?;
        return Ok(ExitCode::SUCCESS);
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut pages = vec![("ssfpack".to_string(), cmd.clone())];
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("ssfpack-{}", sub.get_name());
        pages.push((name.clone(), sub.clone().name(name).version(env!("CARGO_PKG_VERSION"))));
    }
    for (name, page_cmd) in pages {
        let path = dir.join(format!("{name}.1"));
        let mut page = Vec::new();
        clap_mangen::Man::new(page_cmd).render(&mut page).context("rendering the man page")?;
        std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `--version` (and `-vV`): ssfpack's version, then the libraries that decide the output bytes.
pub fn long_version() -> String {
    let mut s = env!("CARGO_PKG_VERSION").to_string();
    for line in crate::media::versions::describe() {
        s.push('\n');
        s.push_str(&line);
    }
    s
}

/// A first argument that is neither an existing file nor a subcommand but close to one
/// (`ssfpack chek out`): the message that says so, instead of clap's about the arguments after it.
pub fn mistyped_subcommand(args: &[std::ffi::OsString]) -> Option<String> {
    let first = args.get(1)?.to_str()?;
    if first.starts_with('-') || std::path::Path::new(first).exists() {
        return None;
    }
    let cmd = Cli::command();
    let names: Vec<&str> = cmd.get_subcommands().map(|s| s.get_name()).collect();
    if names.contains(&first) {
        return None;
    }
    let best = names.iter().map(|n| (distance(first, n), *n)).min()?;
    (best.0 <= 2 && best.0 < first.len()).then(|| format!("no such file `{first}`; did you mean `{}`?", best.1))
}

/// Levenshtein distance (ASCII case-insensitive).
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) =
        (a.to_ascii_lowercase().chars().collect(), b.to_ascii_lowercase().chars().collect());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == cb { prev } else { 1 + prev.min(cur).min(row[j]) };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    #[test]
    fn edit_distance() {
        assert_eq!(super::distance("chek", "check"), 1);
        assert_eq!(super::distance("sevre", "serve"), 2);
        assert_eq!(super::distance("dump", "dump"), 0);
        assert!(super::distance("movie.mp4", "check") > 2);
    }
}
