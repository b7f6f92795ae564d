//! How raw messages are kept in the store: compressed, in a format that says which codec
//! made it. New rows are LZ4 (about 1.6:1 on reports, at some 1 GB/s: deflate's 2:1 cost a
//! sixth of the ingest time); rows written before schema 6 are raw DEFLATE and stay readable.
//!
//! A packed value is either
//! - `0xFF 0x01`, the uncompressed length as 4 bytes little-endian, then one LZ4 block; or
//! - a raw DEFLATE stream (RFC 1951), as stores before schema 6 wrote them.
//!
//! `0xFF` cannot start a DEFLATE stream (its block type bits, 11, are reserved), so the two
//! never mix up.

use anyhow::{Context, Result, bail};
use std::io::Read;

const MARK: u8 = 0xFF;
const LZ4_BLOCK: u8 = 0x01;
/// LZ4 cannot expand a block more than about 255 times: a larger length is corruption, and
/// refusing it keeps a corrupt row from asking for gigabytes.
const LZ4_MAX_RATIO: usize = 255;

/// Compresses a raw message for the store.
pub fn pack(raw: &[u8]) -> Result<Vec<u8>> {
    let length = u32::try_from(raw.len()).context("a message of 4 GB or more cannot be stored")?;
    let mut out = Vec::with_capacity(6 + lz4_flex::block::get_maximum_output_size(raw.len()));
    out.extend_from_slice(&[MARK, LZ4_BLOCK]);
    out.extend_from_slice(&length.to_le_bytes());
    let header = out.len();
    out.resize(
        header + lz4_flex::block::get_maximum_output_size(raw.len()),
        0,
    );
    let written = lz4_flex::block::compress_into(raw, &mut out[header..])
        .context("cannot compress a message")?;
    out.truncate(header + written);
    Ok(out)
}

/// The raw message back from what `pack` (or an older fbl's deflate) stored.
pub fn unpack(packed: &[u8]) -> Result<Vec<u8>> {
    match packed {
        [MARK, LZ4_BLOCK, a, b, c, d, block @ ..] => {
            let length = u32::from_le_bytes([*a, *b, *c, *d]) as usize;
            if length > block.len().saturating_mul(LZ4_MAX_RATIO) + 16 {
                bail!("a stored message is corrupt (its length does not fit its size)");
            }
            lz4_flex::block::decompress(block, length)
                .context("a stored message is corrupt (cannot decompress)")
        }
        [MARK, ..] => {
            bail!("a stored message is in a format this fbl does not know (a newer fbl wrote it?)")
        }
        _ => {
            let mut out = Vec::with_capacity(packed.len() * 3);
            flate2::read::DeflateDecoder::new(packed)
                .read_to_end(&mut out)
                .context("a stored message is corrupt (cannot inflate)")?;
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn packs_and_unpacks() {
        for raw in [
            &b""[..],
            b"x",
            b"From: a@example.com\r\nSubject: hi\r\n\r\nbody body body body body body\r\n",
        ] {
            let packed = pack(raw).unwrap();
            assert_eq!(packed[0], MARK);
            assert_eq!(unpack(&packed).unwrap(), raw);
        }
        let big: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        assert_eq!(unpack(&pack(&big).unwrap()).unwrap(), big);
    }

    /// The encoder is lz4_flex's fast one (its `safe-encode` feature off); the decoder is
    /// the checked one. Every fixture, and every length of one across the encoder's edges
    /// (the last literals, the 16-bit table below 64 KiB), comes back whole.
    #[test]
    fn every_fixture_comes_back_whole() {
        let mut seen = 0;
        for entry in std::fs::read_dir("fixtures/reports").unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "eml") {
                continue;
            }
            let raw = std::fs::read(&path).unwrap();
            for cut in [0, 1, 5, 12, 13, 64, 65_534, 65_535, 65_536, raw.len()] {
                let raw = &raw[..cut.min(raw.len())];
                assert_eq!(unpack(&pack(raw).unwrap()).unwrap(), raw, "{path:?}");
            }
            let doubled: Vec<u8> = raw
                .iter()
                .chain(raw.iter())
                .copied()
                .cycle()
                .take(70_000)
                .collect();
            assert_eq!(
                unpack(&pack(&doubled).unwrap()).unwrap(),
                doubled,
                "{path:?}"
            );
            seen += 1;
        }
        assert!(seen > 50, "{seen} fixtures");
    }

    #[test]
    fn reads_what_older_versions_deflated() {
        let raw = b"Received: from mx.example.net\r\nSubject: old\r\n\r\nstored by fbl 0.x\r\n";
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(raw).unwrap();
        let old = encoder.finish().unwrap();
        assert_ne!(old[0], MARK);
        assert_eq!(unpack(&old).unwrap(), raw);
    }

    #[test]
    fn corruption_is_an_error_not_a_panic_or_a_huge_allocation() {
        let mut packed = pack(b"hello hello hello hello").unwrap();
        packed[2..6].copy_from_slice(&u32::MAX.to_le_bytes());
        let error = unpack(&packed).unwrap_err().to_string();
        assert!(error.contains("corrupt"), "{error}");
        let mut packed = pack(b"hello hello hello hello").unwrap();
        packed.truncate(packed.len() - 3);
        assert!(unpack(&packed).is_err());
        assert!(
            unpack(&[MARK, 0x09, 1, 2])
                .unwrap_err()
                .to_string()
                .contains("newer fbl")
        );
        assert!(unpack(b"\x07not deflate").is_err());
    }
}
