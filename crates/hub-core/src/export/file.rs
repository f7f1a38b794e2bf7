//! Writing an export to a file all or nothing: the bytes go to a hidden file
//! beside the target, which replaces the target only once complete and on
//! disk. A failed or abandoned export leaves no half file, and never
//! replaces a good one.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A file being written; [`ExportFile::commit`] puts it in place, dropping
/// it uncommitted removes it.
pub struct ExportFile {
    out: Option<BufWriter<File>>,
    partial: PathBuf,
    path: PathBuf,
}

impl ExportFile {
    /// Start writing `path` (its directory must exist).
    pub fn create(path: &Path) -> Result<ExportFile> {
        if path.as_os_str().is_empty() {
            return Err(Error::invalid("path", "Name a file to export to"));
        }
        if path.is_dir() {
            return Err(Error::invalid(
                "path",
                format!("{} is a folder: name a file in it", path.display()),
            ));
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "export".into());
        let partial = path.with_file_name(format!(".{name}.partial"));
        let file = File::create(&partial)
            .map_err(|e| Error::invalid("path", format!("cannot write {}: {e}", path.display())))?;
        Ok(ExportFile {
            out: Some(BufWriter::new(file)),
            partial,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flush, sync and rename into place.
    pub fn commit(mut self) -> Result<PathBuf> {
        let Some(mut out) = self.out.take() else {
            return Ok(self.path.clone());
        };
        out.flush()?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&self.partial, &self.path).map_err(|e| {
            Error::invalid("path", format!("cannot write {}: {e}", self.path.display()))
        })?;
        Ok(self.path.clone())
    }
}

impl Write for ExportFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.out {
            Some(out) => out.write(buf),
            None => Err(std::io::Error::other("export file already committed")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.out {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for ExportFile {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

/// Where exports go when the user does not say: the Downloads folder, else
/// the home folder, else the current one.
pub fn default_dir() -> PathBuf {
    directories::UserDirs::new()
        .and_then(|u| {
            u.download_dir()
                .map(Path::to_path_buf)
                .or_else(|| Some(u.home_dir().to_path_buf()))
        })
        .unwrap_or_else(|| PathBuf::from("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_files_replace_the_target_and_abandoned_ones_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        std::fs::write(&path, "old").unwrap();
        {
            let mut f = ExportFile::create(&path).unwrap();
            f.write_all(b"half").unwrap();
            // Dropped without commit: the old file stays, no partial file.
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let mut f = ExportFile::create(&path).unwrap();
        f.write_all(b"new, whole").unwrap();
        assert_eq!(f.commit().unwrap(), path);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new, whole");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        let err = ExportFile::create(dir.path()).err().unwrap();
        assert!(err.to_string().contains("is a folder"), "{err}");
        let err = ExportFile::create(&dir.path().join("no/such/out.csv"))
            .err()
            .unwrap();
        assert_eq!(err.code(), "validation");
        assert!(err.to_string().contains("cannot write"), "{err}");
    }
}
