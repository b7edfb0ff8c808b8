//! CA, CSR policy, node identity and file-mode tests.

// Tests: a failed unwrap or panic is a loud test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use nexus_tls::ca::NODE_CERT_VALIDITY;
use nexus_tls::{node_id_from_cert, CaError, ClusterCa, NodeIdentity, NodeKey};
use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn ca_save_load_keeps_fingerprint_and_modes() {
    let dir = tempfile::tempdir().unwrap();
    let ca_dir = dir.path().join("ca");
    let ca = ClusterCa::create("test").unwrap();
    ca.save(&ca_dir).unwrap();
    assert_eq!(mode(&ca_dir.join("ca.key")), 0o600);
    assert_eq!(mode(&ca_dir), 0o700);

    let loaded = ClusterCa::load(&ca_dir).unwrap();
    assert_eq!(loaded.fingerprint(), ca.fingerprint());
    assert_eq!(loaded.ca_der(), ca.ca_der());
    assert_eq!(ca.fingerprint().len(), 64);
    assert!(ca
        .fingerprint()
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));

    // The CA certificate is a path-length-0 CA.
    let (_, cert) = X509Certificate::from_der(ca.ca_der()).unwrap();
    let bc = cert.basic_constraints().unwrap().unwrap().value;
    assert!(bc.ca);
    assert_eq!(bc.path_len_constraint, Some(0));
}

#[test]
fn csr_policy_ignores_requested_ca_and_sans() {
    let ca = ClusterCa::create("test").unwrap();
    // A hostile CSR asking for CA rights, extra SANs and code signing.
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec![
        "evil.example".to_string(),
        "n1.nexus.internal".to_string(),
    ])
    .unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    let csr = params.serialize_request(&key).unwrap();

    let ip: IpAddr = "10.99.0.5".parse().unwrap();
    let der = ca
        .sign_node_csr(csr.der(), 5, &[ip], NODE_CERT_VALIDITY)
        .unwrap();
    let (_, cert) = X509Certificate::from_der(&der).unwrap();

    let is_ca = cert
        .basic_constraints()
        .unwrap()
        .map(|bc| bc.value.ca)
        .unwrap_or(false);
    assert!(!is_ca, "requested CA=true must not be granted");
    let sans: Vec<String> = cert
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names
        .iter()
        .map(|n| match n {
            GeneralName::DNSName(d) => d.to_string(),
            GeneralName::IPAddress(b) => format!("ip:{b:?}"),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        sans,
        vec![
            "n5.nexus.internal".to_string(),
            "ip:[10, 99, 0, 5]".to_string()
        ]
    );
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth && eku.client_auth);
    assert!(!eku.code_signing && !eku.any);
    let ku = cert.key_usage().unwrap().unwrap().value;
    assert!(ku.digital_signature() && !ku.key_cert_sign());
    assert!(cert
        .get_extension_unique(&x509_parser::oid_registry::OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER)
        .unwrap()
        .is_some());
    assert_eq!(node_id_from_cert(&der), Some(5));
    // The certificate is for the CSR's key.
    assert_eq!(
        cert.public_key().subject_public_key.data.as_ref(),
        key.public_key_raw()
    );
}

#[test]
fn serials_are_random_and_issuer_is_the_ca() {
    let ca = ClusterCa::create("test").unwrap();
    let key = NodeKey::generate().unwrap();
    let csr = key.csr().unwrap();
    let a = ca.sign_node_csr(&csr, 1, &[], NODE_CERT_VALIDITY).unwrap();
    let b = ca.sign_node_csr(&csr, 1, &[], NODE_CERT_VALIDITY).unwrap();
    let (_, ca_cert) = X509Certificate::from_der(ca.ca_der()).unwrap();
    let (_, a) = X509Certificate::from_der(&a).unwrap();
    let (_, b) = X509Certificate::from_der(&b).unwrap();
    assert_ne!(a.raw_serial(), b.raw_serial());
    assert_eq!(a.issuer(), ca_cert.subject());
    a.verify_signature(Some(ca_cert.public_key())).unwrap();
}

#[test]
fn csr_with_bad_signature_is_rejected() {
    let ca = ClusterCa::create("test").unwrap();
    let mut csr = NodeKey::generate().unwrap().csr().unwrap();
    let last = csr.len() - 1;
    csr[last] ^= 0x01;
    let err = ca
        .sign_node_csr(&csr, 9, &[], NODE_CERT_VALIDITY)
        .unwrap_err();
    assert!(matches!(err, CaError::BadCsr { node_id: 9, .. }), "{err}");
    assert!(ca
        .sign_node_csr(b"garbage", 9, &[], NODE_CERT_VALIDITY)
        .is_err());
    // The pre-check a join runs before spending its token agrees.
    assert!(matches!(
        ClusterCa::verify_csr(&csr),
        Err(CaError::CsrInvalid { .. })
    ));
    assert!(ClusterCa::verify_csr(b"garbage").is_err());
    let good = NodeKey::generate().unwrap().csr().unwrap();
    ClusterCa::verify_csr(&good).unwrap();
}

#[test]
fn node_identity_save_load_round_trip_and_modes() {
    let dir = tempfile::tempdir().unwrap();
    let ca = ClusterCa::create("test").unwrap();
    let id = ca
        .issue_local_identity(42, &[], NODE_CERT_VALIDITY)
        .unwrap();
    assert_eq!(id.node_id, 42);
    let node_dir = dir.path().join("node");
    id.save(&node_dir).unwrap();
    assert_eq!(mode(&node_dir.join("node.key")), 0o600);
    assert_eq!(mode(&node_dir), 0o700);
    let back = NodeIdentity::load(&node_dir).unwrap();
    assert_eq!(back.node_id, 42);
    assert_eq!(back.cert_der, id.cert_der);
    assert_eq!(back.ca_der, id.ca_der);
    assert_eq!(back.ca_fingerprint(), ca.fingerprint());
    assert_eq!(back.key.public_key_raw(), id.key.public_key_raw());
}

#[test]
fn identity_refuses_a_certificate_for_another_key() {
    let ca = ClusterCa::create("test").unwrap();
    let id = ca.issue_local_identity(1, &[], NODE_CERT_VALIDITY).unwrap();
    let other = NodeKey::generate().unwrap();
    assert!(NodeIdentity::new(id.cert_der.clone(), other, id.ca_der.clone()).is_err());
    assert_eq!(node_id_from_cert(&id.ca_der), None);
    assert_eq!(node_id_from_cert(b"not a cert"), None);
}

#[test]
fn a_ca_export_reads_back_as_the_same_ca_and_signs_like_it() {
    let ca = ClusterCa::create("test").unwrap();
    let text = ca.export_pem();
    assert!(text.starts_with("-----BEGIN CERTIFICATE-----"), "{text}");
    let back = ClusterCa::from_export_pem(&text).unwrap();
    assert_eq!(back.fingerprint(), ca.fingerprint());
    assert_eq!(back.ca_der(), ca.ca_der());

    // A certificate it signs is one the original CA's clients accept.
    let node = back
        .issue_local_identity(7, &[IpAddr::from([10, 0, 0, 7])], NODE_CERT_VALIDITY)
        .unwrap();
    assert_eq!(node.node_id, 7);
    assert_eq!(node.ca_fingerprint(), ca.fingerprint());
}

#[test]
fn an_export_with_a_foreign_key_a_leaf_or_garbage_is_refused() {
    let ca = ClusterCa::create("test").unwrap();
    let other = ClusterCa::create("other").unwrap();
    let other_key = other
        .export_pem()
        .split_inclusive("-----END CERTIFICATE-----\n")
        .nth(1)
        .unwrap()
        .to_owned();
    let swapped = format!("{}{other_key}", ca.ca_pem());
    let leaf = ca.issue_local_identity(2, &[], NODE_CERT_VALIDITY).unwrap();
    let leaf = pem::encode(&pem::Pem::new("CERTIFICATE", leaf.cert_der));
    let cases = [
        ("swapped key", swapped),
        ("no key", ca.ca_pem()),
        (
            "two certificates",
            format!("{}{}", ca.ca_pem(), ca.export_pem()),
        ),
        ("a node certificate", format!("{leaf}{other_key}")),
        ("garbage", "not a pem file".to_owned()),
    ];
    for (name, text) in cases {
        match ClusterCa::from_export_pem(&text) {
            Err(CaError::BadExport(_)) => {}
            other => panic!("{name}: {other:?}"),
        }
    }
}
