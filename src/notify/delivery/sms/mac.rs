//! HMAC helpers shared by the providers' signers and verifiers.

use hmac::digest::Key;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

pub(super) type HmacSha1 = Hmac<Sha1>;
pub(super) type HmacSha256 = Hmac<Sha256>;

/// RFC 2104 key preparation: a key longer than the hash block is replaced by its digest, and the
/// result is zero-padded to the block size. Doing this ourselves lets us call the infallible
/// `Mac::new` (block-sized key) instead of `new_from_slice`, whose `Result` only exists for MACs
/// with fixed key sizes; HMAC accepts any key length, so there is no error to handle or unwrap.
fn fill_block_key<D: Digest>(key: &[u8], block: &mut [u8]) {
    if key.len() > block.len() {
        let digest = D::digest(key);
        block[..digest.len()].copy_from_slice(&digest);
    } else {
        block[..key.len()].copy_from_slice(key);
    }
}

pub(super) fn hmac_sha1(key: &[u8]) -> HmacSha1 {
    let mut block = Key::<HmacSha1>::default();
    fill_block_key::<Sha1>(key, &mut block);
    HmacSha1::new(&block)
}

pub(super) fn hmac_sha256(key: &[u8]) -> HmacSha256 {
    let mut block = Key::<HmacSha256>::default();
    fill_block_key::<Sha256>(key, &mut block);
    HmacSha256::new(&block)
}

pub(super) fn hmac_sha256_bytes(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = hmac_sha256(key);
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Equality that does not stop at the first differing byte, so a remote caller cannot learn
/// a credential byte by byte from response timing. (The length itself is not secret.)
pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_block_key_matches_new_from_slice_for_all_lengths() {
        for len in [0usize, 1, 20, 32, 63, 64, 65, 128, 200] {
            let key: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let mut ours1 = hmac_sha1(&key);
            let mut theirs1 = HmacSha1::new_from_slice(&key).expect("any length");
            ours1.update(b"data");
            theirs1.update(b"data");
            assert_eq!(
                ours1.finalize().into_bytes(),
                theirs1.finalize().into_bytes(),
                "sha1 len {len}"
            );
            let mut ours256 = hmac_sha256(&key);
            let mut theirs256 = HmacSha256::new_from_slice(&key).expect("any length");
            ours256.update(b"data");
            theirs256.update(b"data");
            assert_eq!(
                ours256.finalize().into_bytes(),
                theirs256.finalize().into_bytes(),
                "sha256 len {len}"
            );
        }
    }

    #[test]
    fn hmac_sha256_rfc4231_case_1() {
        let key = [0x0bu8; 20];
        assert_eq!(
            hex::encode(hmac_sha256_bytes(&key, b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
    }

    #[test]
    fn constant_time_eq_basics() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
