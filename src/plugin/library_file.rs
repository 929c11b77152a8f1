//! Reading a shared library's file without loading it: the part the loader would map, which
//! holds every static of the library (the plugin manifest among them), within a size limit.
//! Of an ELF file the program headers say where the loadable segments end, so the debug
//! information after them (most of a release build) is never read; another file is read up to
//! the limit. A path that is not a regular file is refused before it is opened, so a FIFO or a
//! device never blocks or fills memory.

use std::io::Read;
use std::path::Path;

use benchy_core::source::open_regular_file;

/// How much of a file is read first: enough for an ELF header and its program headers.
const HEAD_LEN: u64 = 64 * 1024;

/// The most of a library that is read to find its manifest. A plugin's loadable segments are a
/// few megabytes; a file that claims more is not read further.
pub const MAX_MAPPED_BYTES: u64 = 256 * 1024 * 1024;

/// The bytes of `path` a loader would map (all of it for a non-ELF file), at most
/// [`MAX_MAPPED_BYTES`]; the error says what is wrong without naming the file.
pub fn mapped_part(path: &Path) -> Result<Vec<u8>, String> {
    let (mut file, metadata) = open_regular_file(path)?;
    let mut bytes = Vec::new();
    (&mut file)
        .take(HEAD_LEN)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    let wanted = loaded_extent(&bytes).unwrap_or(metadata.len());
    if wanted > MAX_MAPPED_BYTES {
        return Err(format!(
            "{wanted} bytes to scan for a plugin manifest; at most {MAX_MAPPED_BYTES} are read \
             (not a plugin library?)"
        ));
    }
    if wanted <= bytes.len() as u64 {
        bytes.truncate(wanted as usize);
    } else {
        file.take(wanted - bytes.len() as u64)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read: {e}"))?;
    }
    Ok(bytes)
}

/// ELF, Mach-O (thin or fat) and PE files start with these.
pub fn looks_like_shared_library(bytes: &[u8]) -> bool {
    const MAGICS: [&[u8]; 7] = [
        b"\x7fELF",
        b"\xfe\xed\xfa\xce",
        b"\xfe\xed\xfa\xcf",
        b"\xce\xfa\xed\xfe",
        b"\xcf\xfa\xed\xfe",
        b"\xca\xfe\xba\xbe",
        b"MZ",
    ];
    MAGICS.iter().any(|magic| bytes.starts_with(magic))
}

/// The end of the last loadable segment of an ELF file (`PT_LOAD`: `p_offset + p_filesz`), from
/// its header and program headers in `head`; `None` when `head` does not hold them (not ELF, or
/// an unusual layout). Field offsets are the ELF specification's (System V gABI, "ELF Header"
/// and "Program Header").
fn loaded_extent(head: &[u8]) -> Option<u64> {
    if !head.starts_with(b"\x7fELF") || head.len() < 64 {
        return None;
    }
    let wide = match head[4] {
        1 => false,
        2 => true,
        _ => return None,
    };
    let big_endian = match head[5] {
        1 => false,
        2 => true,
        _ => return None,
    };
    let read = |at: usize, len: usize| -> Option<u64> {
        let bytes = head.get(at..at + len)?;
        let mut value = 0u64;
        for i in 0..len {
            let byte = if big_endian {
                bytes[i]
            } else {
                bytes[len - 1 - i]
            };
            value = value << 8 | u64::from(byte);
        }
        Some(value)
    };
    let (phoff, phentsize, phnum) = if wide {
        (read(0x20, 8)?, read(0x36, 2)?, read(0x38, 2)?)
    } else {
        (read(0x1c, 4)?, read(0x2a, 2)?, read(0x2c, 2)?)
    };
    const PT_LOAD: u64 = 1;
    let mut extent = None;
    for i in 0..phnum {
        let at = usize::try_from(phoff + i * phentsize).ok()?;
        if read(at, 4)? != PT_LOAD {
            continue;
        }
        let (offset, filesz) = if wide {
            (read(at + 8, 8)?, read(at + 32, 8)?)
        } else {
            (read(at + 4, 4)?, read(at + 16, 4)?)
        };
        extent = extent.max(Some(offset.checked_add(filesz)?));
    }
    extent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_loadable_part_of_an_elf_file_is_needed() {
        // a 64-bit little-endian header with two program headers at 64: a PT_LOAD covering
        // bytes 0..0x300 and a PT_NOTE beyond it
        let mut elf = vec![0u8; 0x400];
        elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
        elf[0x20] = 64; // e_phoff
        elf[0x36] = 56; // e_phentsize
        elf[0x38] = 2; // e_phnum
        elf[64] = 1; // PT_LOAD
        elf[64 + 32..64 + 34].copy_from_slice(&0x300u16.to_le_bytes()); // p_filesz
        elf[120] = 4; // PT_NOTE
        elf[120 + 8] = 0xff; // p_offset far away: not loadable, not counted
        elf[120 + 32] = 0xff;
        assert_eq!(loaded_extent(&elf), Some(0x300));
        // the same in 32-bit big-endian form
        let mut elf = vec![0u8; 0x400];
        elf[..6].copy_from_slice(b"\x7fELF\x01\x02");
        elf[0x1f] = 52; // e_phoff
        elf[0x2b] = 32; // e_phentsize
        elf[0x2d] = 1; // e_phnum
        elf[52 + 3] = 1; // PT_LOAD
        elf[52 + 4 + 3] = 0x10; // p_offset
        elf[52 + 16 + 2] = 0x02; // p_filesz = 0x200
        assert_eq!(loaded_extent(&elf), Some(0x210));
        assert_eq!(loaded_extent(b"MZ not elf"), None);
        assert_eq!(loaded_extent(&elf[..40]), None);
    }

    #[test]
    fn fifos_devices_and_huge_files_are_not_read() {
        assert!(
            mapped_part(Path::new("/dev/zero"))
                .unwrap_err()
                .contains("a device")
        );
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("x.so");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        assert!(mapped_part(&fifo).unwrap_err().contains("a FIFO"));
        // sparse: no disk used, but larger than any plugin
        let huge = dir.path().join("huge.so");
        std::fs::File::create(&huge)
            .unwrap()
            .set_len(MAX_MAPPED_BYTES + 1)
            .unwrap();
        assert!(
            mapped_part(&huge)
                .unwrap_err()
                .contains("not a plugin library?")
        );
    }
}
