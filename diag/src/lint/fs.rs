//! Which file system a path lives on: tbot's storage on a network file system is a root cause of
//! generation-mismatch locks (S1), since a copy or a second node can replay its certificate.

use std::path::Path;

/// The network file system holding `path` (or its nearest existing parent), e.g. `NFS`, or None
/// for a local one or when it cannot be told.
pub fn network_fs_of(path: &Path) -> Option<String> {
    let mut probe = path;
    loop {
        if probe.exists() {
            return fs_magic(probe)
                .and_then(network_fs_name)
                .map(str::to_string);
        }
        probe = probe.parent()?;
    }
}

/// Names of network (or possibly network-backed) file systems by their `statfs` magic number.
fn network_fs_name(magic: u32) -> Option<&'static str> {
    Some(match magic {
        0x6969 => "NFS",
        0x517B => "SMB",
        0xFF53_4D42 => "CIFS",
        0xFE53_4D42 => "SMB2",
        0x00C3_6400 => "CephFS",
        0x0102_1997 => "9P",
        0x5346_414F => "AFS",
        0x6B41_4653 => "AFS (kAFS)",
        0x7375_7245 => "Coda",
        0x0116_1970 => "GFS2",
        0x7461_636F => "OCFS2",
        0x0BD0_0BD0 => "Lustre",
        0x0000_564C => "NCP",
        0x6573_5546 => "FUSE (sshfs, glusterfs, s3fs, ... may be network-backed)",
        _ => return None,
    })
}

#[cfg(target_os = "linux")]
fn fs_magic(path: &Path) -> Option<u32> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut stat = std::mem::MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: c_path is a valid NUL-terminated string and stat points to writable memory of the
    // right type; statfs fills it only when it returns 0.
    let rc = unsafe { libc::statfs(c_path.as_ptr(), stat.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statfs returned 0, so the struct is initialised.
    let stat = unsafe { stat.assume_init() };
    // f_type is a signed word whose width varies; the magic numbers are 32-bit values.
    #[allow(clippy::unnecessary_cast)]
    Some(stat.f_type as u64 as u32)
}

#[cfg(not(target_os = "linux"))]
fn fs_magic(_path: &Path) -> Option<u32> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_network_magics_have_names() {
        assert_eq!(network_fs_name(0x6969), Some("NFS"));
        assert_eq!(network_fs_name(0xFF53_4D42), Some("CIFS"));
        assert_eq!(network_fs_name(0xEF53), None, "ext4 is local");
    }

    #[test]
    fn temp_dir_is_not_reported_as_network() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(network_fs_of(&dir.path().join("not/yet/there")), None);
    }
}
