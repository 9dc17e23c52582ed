//! The presentation's name: the base of its file names and URLs.

use super::{PackageOptions, PipelineError};

pub(super) fn presentation_name(opts: &PackageOptions) -> Result<String, PipelineError> {
    let name = match &opts.name {
        Some(n) => n.clone(),
        None => opts.input.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
    };
    check_name(&name).map_err(PipelineError::Invalid)?;
    Ok(name)
}

/// Whether `name` can be a presentation's name, the base of its file names (`NAME.ism`,
/// `NAME_1000k.ismv`) and of its URLs: the reason when it cannot.
pub fn check_name(name: &str) -> Result<(), String> {
    let bad = name.is_empty()
        || name.len() > 200
        || name.starts_with('.')
        || name.contains(['/', '\\', '?', '#', '%'])
        || name.chars().any(char::is_control);
    if bad {
        return Err(format!(
            "`{name}` is not a valid presentation name: it becomes the file names (NAME.ism, \
             NAME_1000k.ismv), so it must be 1 to 200 bytes, not start with `.`, and hold no `/`, `\\`, \
             `?`, `#`, `%` or control characters (e.g. --name movie)"
        ));
    }
    Ok(())
}
