//! The interface's address, MTU and route, set over rtnetlink (never by
//! running `ip`): the mesh address as a /32, the link up, and the mesh
//! prefix routed into the device.

use std::net::Ipv4Addr;

use futures::TryStreamExt;
use ipnet::Ipv4Net;
use rtnetlink::{Handle, LinkUnspec, RouteMessageBuilder};

use crate::error::MeshError;

/// Gives `interface` the address `address`/32 and MTU `mtu`, brings it up
/// and routes `cidr` into it. Safe to repeat (existing address and route
/// are replaced).
pub async fn configure(
    interface: &str,
    address: Ipv4Addr,
    cidr: Ipv4Net,
    mtu: u32,
) -> Result<(), MeshError> {
    let (connection, handle, _) = rtnetlink::new_connection()
        .map_err(|e| MeshError::Netlink(format!("cannot open a netlink socket: {e}")))?;
    let task = tokio::spawn(connection);
    let outcome = apply(&handle, interface, address, cidr, mtu).await;
    task.abort();
    outcome
}

async fn apply(
    handle: &Handle,
    interface: &str,
    address: Ipv4Addr,
    cidr: Ipv4Net,
    mtu: u32,
) -> Result<(), MeshError> {
    let index = link_index(handle, interface).await?;
    handle
        .link()
        .set(LinkUnspec::new_with_index(index).mtu(mtu).up().build())
        .execute()
        .await
        .map_err(|e| netlink_error(format!("set {interface} up with mtu {mtu}"), e))?;
    handle
        .address()
        .add(index, address.into(), 32)
        .replace()
        .execute()
        .await
        .map_err(|e| netlink_error(format!("add address {address}/32 to {interface}"), e))?;
    let route = RouteMessageBuilder::<Ipv4Addr>::new()
        .destination_prefix(cidr.network(), cidr.prefix_len())
        .output_interface(index)
        .pref_source(address)
        .build();
    handle
        .route()
        .add(route)
        .replace()
        .execute()
        .await
        .map_err(|e| netlink_error(format!("route {cidr} into {interface}"), e))?;
    Ok(())
}

async fn link_index(handle: &Handle, interface: &str) -> Result<u32, MeshError> {
    let mut links = handle
        .link()
        .get()
        .match_name(interface.to_owned())
        .execute();
    match links.try_next().await {
        Ok(Some(link)) => Ok(link.header.index),
        Ok(None) => Err(MeshError::Netlink(format!("no interface {interface}"))),
        Err(e) => Err(netlink_error(format!("find interface {interface}"), e)),
    }
}

/// A refused netlink request; EPERM means the process lacks CAP_NET_ADMIN.
fn netlink_error(what: String, e: rtnetlink::Error) -> MeshError {
    if let rtnetlink::Error::NetlinkError(message) = &e {
        if message.raw_code() == -EPERM {
            return MeshError::NotPermitted(format!(
                "cannot {what}: operation not permitted (the node needs CAP_NET_ADMIN)"
            ));
        }
    }
    MeshError::Netlink(format!("cannot {what}: {e}"))
}

/// EPERM on Linux.
const EPERM: i32 = 1;
