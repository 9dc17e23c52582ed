//! Where a job may write: the checks every packaging command makes on its output path before any
//! work, so that no run can overwrite or delete what it reads or what the user keeps around it.
//!
//! Refused (exit 2, one line naming the paths):
//! - an output that is an input (`ssfpack in.mp4 -o in.mp4`), or a folder that contains one
//!   (`ssfpack dir/in.mp4 -o dir`): every input counts, `--audio` files and all `pack --copy` inputs;
//! - `/`, the home folder, the current folder or any folder above it (`-o .`, `-o ..`).
//!
//! Paths are compared after resolving symbolic links and `..`, so `-o ./x/../in.mp4` or a link to
//! the input's folder is caught too. What `--force` may replace is [`super::published`]'s rule.

use std::path::{Component, Path, PathBuf};

use crate::pipeline::PipelineError;

/// Refuses an output path that would overwrite, contain or enclose what the job reads or where it
/// runs. `inputs` are every file the job reads.
pub fn check_output(output: &Path, inputs: &[&Path]) -> Result<(), PipelineError> {
    let shown = output.display();
    let out = resolve(output).map_err(|e| PipelineError::io(output, e))?;
    if out.parent().is_none() {
        return Err(PipelineError::Refused(format!(
            "-o {shown}: refusing to write into the root folder; choose a new folder, e.g. -o ./out"
        )));
    }
    if let Some(home) = home() {
        if out == home {
            return Err(PipelineError::Refused(format!(
                "-o {shown}: refusing to write into your home folder; choose a new folder, e.g. -o ~/out"
            )));
        }
    }
    for input in inputs {
        let Ok(inp) = input.canonicalize() else { continue };
        if inp == out {
            return Err(PipelineError::Refused(format!(
                "-o {shown}: is the input {}; choose another output folder",
                input.display()
            )));
        }
        if inp.starts_with(&out) {
            return Err(PipelineError::Refused(format!(
                "-o {shown}: contains the input {}; choose an output folder that holds none of the inputs",
                input.display()
            )));
        }
    }
    if let Ok(cwd) = std::env::current_dir().and_then(|c| c.canonicalize()) {
        if cwd.starts_with(&out) {
            let what = if cwd == out { "the current folder" } else { "a folder above the current one" };
            return Err(PipelineError::Refused(format!(
                "-o {shown}: is {what}; the output must be a new folder (or one ssfpack published), e.g. -o ./out"
            )));
        }
    }
    Ok(())
}

/// `path` made absolute with symbolic links and `..` resolved, for a path that may not exist yet:
/// the longest existing prefix is canonicalized and the rest appended, `..` applied lexically.
pub fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    let absolute = if path.is_absolute() { path.to_path_buf() } else { std::env::current_dir()?.join(path) };
    let mut existing = absolute.clone();
    let mut rest: Vec<Component<'_>> = Vec::new();
    let components: Vec<Component<'_>> = absolute.components().collect();
    let mut keep = components.len();
    while keep > 0 {
        let prefix: PathBuf = components[..keep].iter().collect();
        if let Ok(c) = prefix.canonicalize() {
            existing = c;
            rest = components[keep..].to_vec();
            break;
        }
        keep -= 1;
    }
    let mut out = existing;
    for c in rest {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    Ok(out)
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").filter(|h| !h.is_empty()).and_then(|h| PathBuf::from(h).canonicalize().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_missing_tails_and_dot_dots() {
        let root = tempfile::tempdir().unwrap();
        let base = root.path().canonicalize().unwrap();
        std::fs::create_dir(base.join("a")).unwrap();
        assert_eq!(resolve(&base.join("a/new/../x")).unwrap(), base.join("a/x"));
        assert_eq!(resolve(&base.join("a/./b")).unwrap(), base.join("a/b"));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(base.join("a"), base.join("link")).unwrap();
            assert_eq!(resolve(&base.join("link/y")).unwrap(), base.join("a/y"));
        }
    }

    #[test]
    fn refuses_inputs_and_their_folders() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("v");
        std::fs::create_dir(&dir).unwrap();
        let input = dir.join("in.mp4");
        std::fs::write(&input, b"x").unwrap();
        let refused = |out: &Path| matches!(check_output(out, &[&input]), Err(PipelineError::Refused(_)));
        assert!(refused(&input));
        assert!(refused(&dir));
        assert!(refused(root.path()));
        assert!(refused(&dir.join("sub/../in.mp4")));
        assert!(refused(Path::new("/")));
        assert!(check_output(&dir.join("out"), &[&input]).is_ok());
        assert!(check_output(&root.path().join("other"), &[&input]).is_ok());
    }
}
