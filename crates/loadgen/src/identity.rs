//! Deterministic identities of simulated agents: an Ed25519 key and host facts per index.
//!
//! The key of agent `index` is derived from the run's seed, so a restarted load generator
//! reconnects as the same hosts instead of registering new ones. These keys are for load tests
//! only: anyone who knows the seed can compute them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha256};
use sysmanage_protocol::HostInfo;

/// Domain separation prefix of the key derivation, so the same seed used elsewhere gives
/// other bytes.
const DERIVATION_CONTEXT: &[u8] = b"sysmanage-loadgen-identity-v1\0";

/// Operating systems the simulated hosts claim, picked by index.
const OPERATING_SYSTEMS: [(&str, &str, &str); 3] = [
    ("Debian GNU/Linux", "12", "6.1.0-28-amd64"),
    ("Ubuntu", "22.04", "5.15.0-126-generic"),
    ("Ubuntu", "24.04", "6.8.0-49-generic"),
];

/// Key and host facts of one simulated agent.
pub struct AgentIdentity {
    index: u32,
    signing_key: SigningKey,
}

impl std::fmt::Debug for AgentIdentity {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("AgentIdentity")
            .field("index", &self.index)
            .field("public_key", &self.public_key_base64())
            .finish_non_exhaustive()
    }
}

impl AgentIdentity {
    /// Derives the identity of agent `index`: its key seed is SHA-256 of a fixed context, the
    /// run seed, a zero byte and the index in big-endian order.
    pub fn derive(seed: &str, index: u32) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(DERIVATION_CONTEXT);
        hasher.update(seed.as_bytes());
        hasher.update([0]);
        hasher.update(index.to_be_bytes());
        let key_seed: [u8; 32] = hasher.finalize().into();
        Self {
            index,
            signing_key: SigningKey::from_bytes(&key_seed),
        }
    }

    /// Returns the agent index.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Returns the raw 32-byte public key.
    pub fn public_key_bytes(&self) -> [u8; 32] {
        self.signing_key.verifying_key().to_bytes()
    }

    /// Returns the public key as standard base64, the form `Hello` carries.
    pub fn public_key_base64(&self) -> String {
        BASE64.encode(self.public_key_bytes())
    }

    /// Signs a challenge nonce the way the real agent does and returns the standard base64 of
    /// the 64-byte signature.
    pub fn sign_challenge(&self, nonce: &[u8]) -> String {
        let message = sysmanage_protocol::signed_challenge_bytes(nonce, &self.public_key_bytes());
        BASE64.encode(self.signing_key.sign(&message).to_bytes())
    }

    /// Returns the host facts this agent reports: a hostname built from the index and one of a
    /// few common Linux releases.
    pub fn host_info(&self) -> HostInfo {
        let hostname = format!("loadgen-{:06}", self.index);
        let (os_name, os_version, kernel) =
            OPERATING_SYSTEMS[self.index as usize % OPERATING_SYSTEMS.len()];
        let machine_id = hex::encode(&Sha256::digest(self.public_key_bytes())[..16]);
        HostInfo {
            fqdn: format!("{hostname}.loadgen.test"),
            hostname,
            os_name: os_name.to_owned(),
            os_version: os_version.to_owned(),
            kernel: kernel.to_owned(),
            architecture: if self.index % 10 == 9 {
                "aarch64".to_owned()
            } else {
                "x86_64".to_owned()
            },
            machine_id: Some(machine_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};

    use super::*;

    #[test]
    fn same_seed_and_index_same_key() {
        let first = AgentIdentity::derive("seed", 7);
        let second = AgentIdentity::derive("seed", 7);
        assert_eq!(first.public_key_bytes(), second.public_key_bytes());
    }

    #[test]
    fn index_and_seed_change_key() {
        let base = AgentIdentity::derive("seed", 7).public_key_bytes();
        assert_ne!(base, AgentIdentity::derive("seed", 8).public_key_bytes());
        assert_ne!(base, AgentIdentity::derive("other", 7).public_key_bytes());
        // The zero byte separates seed and index, so "seed1" + 0 differs from "seed" + 1.
        assert_ne!(
            AgentIdentity::derive("seed1", 0).public_key_bytes(),
            AgentIdentity::derive("seed", 1).public_key_bytes()
        );
    }

    #[test]
    fn signature_verifies_against_challenge_bytes() {
        let identity = AgentIdentity::derive("seed", 3);
        let nonce = [0x5a; sysmanage_protocol::NONCE_LEN];
        let signature_bytes = BASE64.decode(identity.sign_challenge(&nonce)).unwrap();
        let signature = Signature::from_slice(&signature_bytes).unwrap();
        let public_key = BASE64.decode(identity.public_key_base64()).unwrap();
        let verifying_key = VerifyingKey::from_bytes(&public_key.try_into().unwrap()).unwrap();
        let message =
            sysmanage_protocol::signed_challenge_bytes(&nonce, &identity.public_key_bytes());
        assert!(verifying_key.verify(&message, &signature).is_ok());
        let other_nonce = [0x5b; sysmanage_protocol::NONCE_LEN];
        let other_message =
            sysmanage_protocol::signed_challenge_bytes(&other_nonce, &identity.public_key_bytes());
        assert!(verifying_key.verify(&other_message, &signature).is_err());
    }

    #[test]
    fn host_info_is_stable_and_distinct() {
        let first = AgentIdentity::derive("seed", 42).host_info();
        assert_eq!(first, AgentIdentity::derive("seed", 42).host_info());
        assert_eq!(first.hostname, "loadgen-000042");
        assert_eq!(first.fqdn, "loadgen-000042.loadgen.test");
        let other = AgentIdentity::derive("seed", 43).host_info();
        assert_ne!(first.hostname, other.hostname);
        assert_ne!(first.machine_id, other.machine_id);
        assert_eq!(first.machine_id.unwrap().len(), 32);
    }
}
