//! Placeholder until the branch lands.
use std::io::Write;
use std::path::Path;
pub fn write_atomically<T>(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<T>,
) -> std::io::Result<T> {
    let mut f = std::fs::File::create(path)?;
    write(&mut f)
}
