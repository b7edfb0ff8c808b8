//! The `sign` group: Ed25519 signatures with the tenant's host-held key
//! (through the node's [`TenantSigner`]). No function returns the
//! secret key.

use wasmtime::{Caller, Linker};

use super::super::abi::{
    self, ERR_DENIED, ERR_IO, MAX_SIGN_MESSAGE, PUBLIC_KEY_LEN, SIGNATURE_LEN,
};
use super::super::capability::Capability;
use super::super::context::NO_SANDBOX;
use super::super::signer::{SignerError, TenantSigner};
use super::super::state::GuestState;
use super::{granted, mem, ret};

pub(super) fn add_to_linker(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    linker.func_wrap(abi::MODULE, "sign_message", sign_message)?;
    linker.func_wrap(abi::MODULE, "sign_public_key", sign_public_key)?;
    Ok(())
}

/// `sign_message(msg_ptr, msg_len, out_ptr) -> 0 | error`: writes the
/// 64-byte signature of the message at `out_ptr`.
fn sign_message(mut caller: Caller<'_, GuestState>, mp: i32, ml: i32, op: i32) -> i32 {
    ret((|| {
        granted(caller.data(), Capability::Sign, "sign_message")?;
        let message = mem::read_capped(&mut caller, mp, ml, MAX_SIGN_MESSAGE, "sign", || {
            "sign_message: message".to_string()
        })?;
        mem::check_buffer(&mut caller, op, SIGNATURE_LEN as i32)?;
        let signature = with_key(&caller, "sign_message", |keys, tenant| {
            keys.sign(tenant, &message)
        })?;
        mem::write_out(&mut caller, op, SIGNATURE_LEN as i32, &signature).map(|_| 0)
    })())
}

/// `sign_public_key(out_ptr) -> 0 | error`: writes the tenant's 32-byte
/// Ed25519 public key at `out_ptr`.
fn sign_public_key(mut caller: Caller<'_, GuestState>, op: i32) -> i32 {
    ret((|| {
        granted(caller.data(), Capability::Sign, "sign_public_key")?;
        mem::check_buffer(&mut caller, op, PUBLIC_KEY_LEN as i32)?;
        let key = with_key(&caller, "sign_public_key", |keys, tenant| {
            keys.public_key(tenant)
        })?;
        mem::write_out(&mut caller, op, PUBLIC_KEY_LEN as i32, &key).map(|_| 0)
    })())
}

/// Runs `f` with the node's key store and the caller's tenant. A call
/// without a tenant is denied; a node without a key store, or a key that
/// cannot be read or made, is `ERR_IO` (logged).
fn with_key<T>(
    caller: &Caller<'_, GuestState>,
    op: &str,
    f: impl FnOnce(&dyn TenantSigner, &str) -> Result<T, SignerError>,
) -> Result<T, i32> {
    let sandbox = &caller.data().host.sandbox;
    if sandbox.tenant() == NO_SANDBOX {
        sandbox.deny("sign", &format!("{op}: the call belongs to no tenant"));
        return Err(ERR_DENIED);
    }
    let Some(keys) = sandbox.services().signer() else {
        tracing::warn!(
            sandbox = sandbox.id(),
            op,
            "this node has no tenant key store"
        );
        return Err(ERR_IO);
    };
    f(keys, sandbox.tenant()).map_err(|e| {
        tracing::warn!(sandbox = sandbox.id(), op, error = %e, "tenant key failed");
        ERR_IO
    })
}
