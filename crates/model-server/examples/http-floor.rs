//! The floor of the served benchmark (`ci/bench-serve.py`): the least an
//! HTTP/1.1 server on this stack (hyper on a single-thread Tokio runtime,
//! `TCP_NODELAY`, mimalloc, as `model-server --threads 1` runs) can do per
//! request. It reads each request's body whole and answers 200 with a fixed
//! body shaped like model-server's answer for one MLP row, whatever the
//! path. model-server's served throughput is reported as a share of this.
//!
//! ```sh
//! cargo run --release -p model-server --example http-floor -- 127.0.0.1:8090
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A V2 response for one row of the digits MLP, the size model-server sends.
const ANSWER: &str = concat!(
    r#"{"model_name":"digits","model_version":"1","outputs":["#,
    r#"{"name":"label","datatype":"INT64","shape":[1],"data":[0]},"#,
    r#"{"name":"probabilities","datatype":"FP32","shape":[1,10],"data":"#,
    r#"[0.99991137,1.3430914e-9,3.4121637e-6,1.1537398e-8,6.9571544e-6,"#,
    r#"4.1520193e-5,1.2037653e-5,5.4360395e-7,2.1426417e-5,3.1648813e-6]}]}"#
);

async fn answer(
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    // Read the body as a server must before it can answer.
    let _ = request.into_body().collect().await;
    let mut response = Response::new(Full::new(Bytes::from_static(ANSWER.as_bytes())));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

async fn serve(address: SocketAddr) -> anyhow::Result<()> {
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("binding {address}"))?;
    eprintln!("listening on {}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(answer))
                .await;
        });
    }
}

fn main() -> anyhow::Result<()> {
    let address: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".into())
        .parse()
        .context("the argument is host:port")?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(serve(address))
}
