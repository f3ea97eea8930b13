//! Deployment packages: validating an uploaded zip, and unpacking a
//! function's code into a local directory that environments run from.
//!
//! The package itself lives in the storage service; unpacked trees are a
//! cache under the service's scratch directory, keyed by the package's
//! SHA-256, so environments of the same code share one tree and a lost
//! cache is rebuilt from storage.

use std::{
    io::{Read, Seek},
    path::{Path, PathBuf},
};

use nubo_proto::clients::ObjectsClient;
use sha2::{Digest, Sha256};

use crate::error::{LambdaError, Result};

/// Lambda's limit on a zip uploaded in the request (50 MB).
pub const MAX_ZIPPED_BYTES: usize = 50 * 1024 * 1024;
/// Lambda's limit on the unpacked size of a package (250 MB).
pub const MAX_UNZIPPED_BYTES: u64 = 262_144_000;

/// The SHA-256 of a package, in hex (for cache keys) and base64 (for the API).
pub fn digest(package: &[u8]) -> (String, String) {
    use base64::Engine as _;
    let hash = Sha256::digest(package);
    (hex::encode(hash), base64::engine::general_purpose::STANDARD.encode(hash))
}

fn unzip_error() -> LambdaError {
    LambdaError::InvalidParameterValue(
        "Could not unzip uploaded file. Please check your file, then try to upload again.".into(),
    )
}

/// Checks that `package` is a zip Lambda would accept.
pub fn validate(package: &[u8]) -> Result<()> {
    if package.len() > MAX_ZIPPED_BYTES {
        return Err(LambdaError::RequestTooLarge(format!(
            "Request must be smaller than {MAX_ZIPPED_BYTES} bytes for the CreateFunction operation"
        )));
    }
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(package)).map_err(|_| unzip_error())?;
    unpacked_size(&mut archive)?;
    Ok(())
}

fn unpacked_size<R: Read + Seek>(archive: &mut zip::ZipArchive<R>) -> Result<u64> {
    let mut total = 0u64;
    for index in 0..archive.len() {
        let entry = archive.by_index_raw(index).map_err(|_| unzip_error())?;
        total = total.saturating_add(entry.size());
    }
    if total > MAX_UNZIPPED_BYTES {
        return Err(LambdaError::InvalidParameterValue(format!(
            "Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes"
        )));
    }
    Ok(total)
}

/// Unpacks a zip into `target`, which must not exist. Entries that would
/// land outside `target` (`../x`, absolute paths) are refused; Unix modes
/// are kept so a `bootstrap` stays executable.
pub fn unpack<R: Read + Seek>(reader: R, target: &Path) -> Result<()> {
    let mut archive = zip::ZipArchive::new(reader).map_err(|_| unzip_error())?;
    unpacked_size(&mut archive)?;
    let io = |error: std::io::Error| LambdaError::Service(format!("cannot unpack function code: {error}"));
    std::fs::create_dir_all(target).map_err(io)?;
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(|_| unzip_error())?;
        let Some(relative) = entry.enclosed_name() else { return Err(unzip_error()) };
        let path = target.join(relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&path).map_err(io)?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut file = std::fs::File::create(&path).map_err(io)?;
        std::io::copy(&mut entry, &mut file).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            // Zips made without Unix modes still need readable files.
            let mode = entry.unix_mode().map(|mode| mode & 0o755).filter(|mode| mode & 0o400 != 0).unwrap_or(0o644);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).map_err(io)?;
        }
    }
    Ok(())
}

/// Where an environment's code is on this host.
#[derive(Debug, Clone)]
pub struct Code {
    /// The function's package, at `/var/task`.
    pub task: PathBuf,
    /// Its layers merged in order, at `/opt`.
    pub opt: Option<PathBuf>,
}

/// Unpacked packages under one directory, filled from the storage service.
#[derive(Debug, Clone)]
pub struct CodeCache {
    root: PathBuf,
    objects: ObjectsClient,
}

impl CodeCache {
    pub fn new(root: PathBuf, objects: ObjectsClient) -> Self {
        Self { root, objects }
    }

    /// Where packages are stored.
    pub fn objects(&self) -> &ObjectsClient {
        &self.objects
    }

    fn directory(&self, sha256_hex: &str) -> PathBuf {
        self.root.join(sha256_hex)
    }

    /// Unpacks a package that is at hand (just uploaded).
    pub async fn insert(&self, sha256_hex: &str, package: bytes::Bytes) -> Result<PathBuf> {
        let directory = self.directory(sha256_hex);
        if directory.is_dir() {
            return Ok(directory);
        }
        let root = self.root.clone();
        let target = directory.clone();
        tokio::task::spawn_blocking(move || unpack_atomically(&root, &target, std::io::Cursor::new(package)))
            .await
            .map_err(|error| LambdaError::Service(format!("unpack task failed: {error}")))??;
        Ok(directory)
    }

    /// The directory of a package's code, fetched from storage and unpacked
    /// if this host has not seen it.
    pub async fn get(&self, sha256_hex: &str, bucket: &str, key: &str) -> Result<PathBuf> {
        let directory = self.directory(sha256_hex);
        if directory.is_dir() {
            return Ok(directory);
        }
        let io = |error: std::io::Error| LambdaError::Service(format!("cannot fetch function code: {error}"));
        std::fs::create_dir_all(&self.root).map_err(io)?;
        let download = tempfile::NamedTempFile::new_in(&self.root).map_err(io)?;
        let mut file = tokio::fs::File::from_std(download.reopen().map_err(io)?);
        self.objects.get_into(bucket, key, &mut file).await?;
        drop(file);
        let root = self.root.clone();
        let target = directory.clone();
        tokio::task::spawn_blocking(move || {
            let reader = download.reopen().map_err(io)?;
            unpack_atomically(&root, &target, reader)
        })
        .await
        .map_err(|error| LambdaError::Service(format!("unpack task failed: {error}")))??;
        Ok(directory)
    }
}

impl CodeCache {
    /// The tree of a function's layers merged in order (a later layer's
    /// file replaces an earlier one's), made once per list of layers.
    pub async fn merged_layers(&self, layers: &[crate::layers::FunctionLayer]) -> Result<Option<PathBuf>> {
        if layers.is_empty() {
            return Ok(None);
        }
        let mut trees = Vec::with_capacity(layers.len());
        for layer in layers {
            trees.push(self.get(&layer.sha256_hex, &layer.bucket, &layer.key).await?);
        }
        let joined: Vec<&str> = layers.iter().map(|layer| layer.sha256_hex.as_str()).collect();
        let target = self.root.join(format!("opt-{}", hex::encode(Sha256::digest(joined.join(",")))));
        if target.is_dir() {
            return Ok(Some(target));
        }
        let root = self.root.clone();
        let merged = target.clone();
        tokio::task::spawn_blocking(move || {
            let io = |error: std::io::Error| LambdaError::Service(format!("cannot merge layers: {error}"));
            let staging = tempfile::Builder::new().prefix(".merge-").tempdir_in(&root).map_err(io)?;
            let tree = staging.path().join("opt");
            std::fs::create_dir(&tree).map_err(io)?;
            for layer in &trees {
                copy_tree(layer, &tree).map_err(io)?;
            }
            match std::fs::rename(&tree, &merged) {
                Ok(()) => Ok(()),
                Err(_) if merged.is_dir() => Ok(()),
                Err(error) => Err(io(error)),
            }
        })
        .await
        .map_err(|error| LambdaError::Service(format!("merge task failed: {error}")))??;
        Ok(Some(target))
    }
}

/// Copies `from`'s files into `to`, replacing files of the same name.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Unpacks into a temporary directory, then renames it into place, so a
/// crash never leaves a half-unpacked tree that looks complete.
fn unpack_atomically<R: Read + Seek>(root: &Path, target: &Path, reader: R) -> Result<()> {
    let io = |error: std::io::Error| LambdaError::Service(format!("cannot unpack function code: {error}"));
    std::fs::create_dir_all(root).map_err(io)?;
    let staging = tempfile::Builder::new().prefix(".unpack-").tempdir_in(root).map_err(io)?;
    let tree = staging.path().join("code");
    unpack(reader, &tree)?;
    match std::fs::rename(&tree, target) {
        Ok(()) => Ok(()),
        // Another invocation unpacked the same package first.
        Err(_) if target.is_dir() => Ok(()),
        Err(error) => Err(io(error)),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use super::*;

    pub fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
        let mut buffer = std::io::Cursor::new(Vec::new());
        let mut writer = zip::ZipWriter::new(&mut buffer);
        for (name, content) in files {
            writer.start_file(*name, zip::write::SimpleFileOptions::default().unix_permissions(0o755)).unwrap();
            writer.write_all(content.as_bytes()).unwrap();
        }
        writer.finish().unwrap();
        buffer.into_inner()
    }

    #[test]
    fn unpacks_and_keeps_modes() {
        let dir = tempfile::tempdir().unwrap();
        let package = zip_of(&[("app.py", "x = 1"), ("lib/util.py", "y = 2")]);
        validate(&package).unwrap();
        unpack(std::io::Cursor::new(package), &dir.path().join("code")).unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("code/lib/util.py")).unwrap(), "y = 2");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join("code/app.py")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o755);
        }
    }

    #[test]
    fn refuses_garbage_and_escaping_entries() {
        assert!(matches!(validate(b"not a zip"), Err(LambdaError::InvalidParameterValue(_))));
        let dir = tempfile::tempdir().unwrap();
        let package = zip_of(&[("../evil.py", "x")]);
        assert!(unpack(std::io::Cursor::new(package), &dir.path().join("code")).is_err());
        assert!(!dir.path().join("evil.py").exists());
    }
}
