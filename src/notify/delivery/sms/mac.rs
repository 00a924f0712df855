//! HMAC helpers shared by the providers' signers and verifiers.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::Sha256;

pub(in crate::notify::delivery) type HmacSha1 = Hmac<Sha1>;
pub(in crate::notify::delivery) type HmacSha256 = Hmac<Sha256>;

/// An HMAC keyed with `key`. HMAC takes a key of any length (RFC 2104: a longer one than the
/// block is hashed first), and `new_from_slice` does exactly that; its `Result` belongs to the
/// `KeyInit` trait, for MACs with a fixed key size, and is never an error for HMAC.
fn keyed<M: KeyInit>(key: &[u8]) -> M {
    M::new_from_slice(key).expect("HMAC accepts a key of any length")
}

pub(in crate::notify::delivery) fn hmac_sha1(key: &[u8]) -> HmacSha1 {
    keyed(key)
}

pub(in crate::notify::delivery) fn hmac_sha256(key: &[u8]) -> HmacSha256 {
    keyed(key)
}

pub(in crate::notify::delivery) fn hmac_sha256_bytes(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = hmac_sha256(key);
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_keys_longer_than_the_block_are_hashed_first() {
        // RFC 2202 and RFC 4231 test case 6: a key longer than the hash block, as a provider's
        // secret may be.
        let data = b"Test Using Larger Than Block-Size Key - Hash Key First";
        let mut sha1 = hmac_sha1(&[0xaa; 80]);
        sha1.update(data);
        assert_eq!(
            hex::encode(sha1.finalize().into_bytes()),
            "aa4ae5e15272d00e95705637ce8a3b55ed402112"
        );
        assert_eq!(
            hex::encode(hmac_sha256_bytes(&[0xaa; 131], data)),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        // An empty key is a key too (a webhook secret is checked for emptiness by the caller).
        assert_eq!(
            hex::encode(hmac_sha256_bytes(b"", b"")),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"
        );
    }

    #[test]
    fn hmac_sha256_rfc4231_case_1() {
        let key = [0x0bu8; 20];
        assert_eq!(
            hex::encode(hmac_sha256_bytes(&key, b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
    }
}
