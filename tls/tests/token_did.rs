//! Join token and did:key tests.

// Tests: a failed unwrap or panic is a loud test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;

use nexus_tls::didkey::verify;
use nexus_tls::{
    hash_secret, verify_secret, DidError, DidKey, JoinToken, SigningIdentity, TokenError,
};

const FP: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const ID: &str = "00112233aabbccdd";
const SECRET: &str = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

fn token(fp: &str, id: &str, secret: &str) -> String {
    format!("NXJ1.{fp}.{id}.{secret}")
}

#[test]
fn token_mint_parse_round_trip() {
    let (tok, seed) = JoinToken::mint(FP).unwrap();
    let text = tok.to_string();
    assert!(text.starts_with("NXJ1."));
    let back = JoinToken::parse(&format!("  {text}\n")).unwrap();
    assert_eq!(back, tok);
    assert_eq!(back.ca_fingerprint, FP);
    assert_eq!(seed.id, tok.id);
    assert_eq!(seed.secret_hash, hash_secret(&tok.secret));
    assert_eq!(tok.secret.len(), 64, "256-bit secret");
    let (other, _) = JoinToken::mint(FP).unwrap();
    assert_ne!(other.secret, tok.secret);
    assert_ne!(other.id, tok.id);
    // Debug never shows the secret.
    assert!(!format!("{tok:?}").contains(&tok.secret));
    // Uppercase fingerprints are accepted and normalized.
    let upper = JoinToken::parse(&token(&FP.to_uppercase(), ID, SECRET)).unwrap();
    assert_eq!(upper.ca_fingerprint, FP);
}

#[test]
fn token_parse_errors_are_distinct() {
    assert_eq!(JoinToken::parse(""), Err(TokenError::Garbage));
    assert_eq!(JoinToken::parse("hello world"), Err(TokenError::Garbage));
    assert_eq!(
        JoinToken::parse(&format!("K10{FP}::server:x")),
        Err(TokenError::Garbage)
    );
    assert_eq!(
        JoinToken::parse(&format!("NXJ1.{FP}.{ID}")),
        Err(TokenError::Garbage)
    );
    assert_eq!(
        JoinToken::parse(&format!("{}.extra", token(FP, ID, SECRET))),
        Err(TokenError::Garbage)
    );
    assert_eq!(
        JoinToken::parse(&format!("NXJ2.{FP}.{ID}.{SECRET}")),
        Err(TokenError::WrongVersion("NXJ2".into()))
    );
    assert_eq!(
        JoinToken::parse(&token(&FP[..63], ID, SECRET)),
        Err(TokenError::FingerprintLength(63))
    );
    assert_eq!(
        JoinToken::parse(&token(&format!("{}g", &FP[..63]), ID, SECRET)),
        Err(TokenError::FingerprintNotHex)
    );
    assert_eq!(
        JoinToken::parse(&token(FP, "0011", SECRET)),
        Err(TokenError::BadId)
    );
    assert_eq!(
        JoinToken::parse(&token(FP, "00112233AABBCCDD", SECRET)),
        Err(TokenError::BadId)
    );
    assert_eq!(
        JoinToken::parse(&token(FP, ID, &SECRET[1..])),
        Err(TokenError::BadSecret)
    );
    assert_eq!(
        JoinToken::parse(&token(FP, ID, &format!("{}z", &SECRET[1..]))),
        Err(TokenError::BadSecret)
    );
    assert!(JoinToken::mint("abc").is_err());
}

#[test]
fn secret_verification() {
    let (tok, seed) = JoinToken::mint(FP).unwrap();
    assert!(verify_secret(&tok.secret, &seed.secret_hash));
    let mut wrong = tok.secret.clone();
    wrong.replace_range(0..1, if wrong.starts_with('0') { "1" } else { "0" });
    assert!(!verify_secret(&wrong, &seed.secret_hash));
    assert!(!verify_secret(&tok.secret, ""));
    assert!(!verify_secret(&tok.secret, &seed.secret_hash[..63]));
    // sha256("abc")
    assert_eq!(
        hash_secret("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn did_key_round_trip_sign_verify() {
    let id = SigningIdentity::generate();
    let did = id.did_key();
    assert!(did.starts_with("did:key:z6Mk"), "{did}");
    let vk = DidKey::parse(&did).unwrap();
    assert_eq!(vk, id.verifying_key());
    let sig = id.sign(b"workbook digest");
    assert!(verify(&vk, b"workbook digest", &sig));
    assert!(!verify(&vk, b"workbook digesT", &sig));
    assert!(!verify(&vk, b"workbook digest", &sig[..63]));
    let other = SigningIdentity::generate().verifying_key();
    assert!(!verify(&other, b"workbook digest", &sig));
}

#[test]
fn did_key_known_vectors() {
    // did:key example with its publicKeyBase58 (Ed25519VerificationKey2018), as published in
    // did:key resolver test fixtures.
    let did = "did:key:z6MkmjY8GnV5i9YTDtPETC2uUAW6ejw3nk5mXF5yci5ab7th";
    let raw = bs58::decode("8HH5gYEeNc3z7PYXmd54d4x6qAfCNrqQqEB3nS7Zfu7K")
        .into_vec()
        .unwrap();
    let vk = DidKey::parse(did).unwrap();
    assert_eq!(vk.as_bytes().as_slice(), raw.as_slice());
    assert_eq!(DidKey::encode(&vk), did);

    // RFC 8032 §7.1 TEST 1: secret key -> public key, and its did:key round-trips.
    let seed: [u8; 32] =
        hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
            .unwrap()
            .try_into()
            .unwrap();
    let id = SigningIdentity::from_seed(&seed);
    assert_eq!(
        hex::encode(id.verifying_key().as_bytes()),
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    );
    // RFC 8032 TEST 1 signature of the empty message.
    assert_eq!(
        hex::encode(id.sign(b"")),
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    );
    assert_eq!(DidKey::parse(&id.did_key()).unwrap(), id.verifying_key());
}

#[test]
fn did_key_parse_errors() {
    assert!(matches!(
        DidKey::parse("did:web:example.com"),
        Err(DidError::NotDidKey(_))
    ));
    assert!(matches!(
        DidKey::parse("did:key:z0OIl"),
        Err(DidError::BadBase58)
    ));
    // A secp256k1 did:key (multicodec 0xe7) is not Ed25519.
    let mut bytes = vec![0xe7, 0x01];
    bytes.extend_from_slice(&[2u8; 33]);
    let k1 = format!("did:key:z{}", bs58::encode(bytes).into_string());
    assert!(matches!(DidKey::parse(&k1), Err(DidError::NotEd25519)));
}

#[test]
fn signing_key_save_load_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sign.key");
    let id = SigningIdentity::generate();
    id.save(&path).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let back = SigningIdentity::load(&path).unwrap();
    assert_eq!(back.did_key(), id.did_key());
    std::fs::write(&path, "nope").unwrap();
    assert!(matches!(
        SigningIdentity::load(&path),
        Err(DidError::BadKeyFile(_))
    ));
}
