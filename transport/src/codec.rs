//! [`MsgPackCodec`]: the gRPC codec of every Nexus service. Messages are serde
//! types encoded as MessagePack with named fields, so openraft's own types
//! (including their optional fields) travel without a schema of their own.

use std::marker::PhantomData;

use bytes::{Buf, BufMut};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::Status;

/// Encodes `E` and decodes `D` as MessagePack.
#[derive(Debug)]
pub struct MsgPackCodec<E, D>(PhantomData<(E, D)>);

impl<E, D> Default for MsgPackCodec<E, D> {
    fn default() -> Self {
        MsgPackCodec(PhantomData)
    }
}

impl<E, D> Codec for MsgPackCodec<E, D>
where
    E: Serialize + Send + 'static,
    D: DeserializeOwned + Send + 'static,
{
    type Encode = E;
    type Decode = D;
    type Encoder = MsgPackEncoder<E>;
    type Decoder = MsgPackDecoder<D>;

    fn encoder(&mut self) -> Self::Encoder {
        MsgPackEncoder(PhantomData)
    }

    fn decoder(&mut self) -> Self::Decoder {
        MsgPackDecoder(PhantomData)
    }
}

/// The encoding half of [`MsgPackCodec`].
#[derive(Debug)]
pub struct MsgPackEncoder<E>(PhantomData<E>);

impl<E: Serialize> Encoder for MsgPackEncoder<E> {
    type Item = E;
    type Error = Status;

    fn encode(&mut self, item: E, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        rmp_serde::encode::write_named(&mut dst.writer(), &item)
            .map_err(|e| Status::internal(format!("cannot encode message: {e}")))
    }
}

/// The decoding half of [`MsgPackCodec`].
#[derive(Debug)]
pub struct MsgPackDecoder<D>(PhantomData<D>);

impl<D: DeserializeOwned> Decoder for MsgPackDecoder<D> {
    type Item = D;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<D>, Status> {
        rmp_serde::from_read(src.reader())
            .map(Some)
            .map_err(|e| Status::invalid_argument(format!("malformed message: {e}")))
    }
}
