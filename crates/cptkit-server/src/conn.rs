//! The accept path: TCP accept, an optional TLS handshake off the accept loop, and the idle timeout; and
//! the write path, which lets a small answer leave in one system call (see `impl AsyncWrite for Conn`).
//!
//! The accept loop only accepts; each TLS handshake runs in its own task under a timeout and a bound on
//! concurrent handshakes, so a slow or silent client cannot stall accepting. A connection is a [`Conn`]
//! whose [`ConnInfo`] (request extension) carries the peer address, the verified client-certificate
//! subject and an activity record. [`ConnectionLayer`] counts requests in progress on that record;
//! a connection with none in progress for `--idle-timeout` reads EOF, and hyper closes it. Activity
//! is counted by requests, not bytes, so HTTP/2 keepalive PINGs do not keep an idle connection open.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::{Instant, Sleep};
use tokio_rustls::server::TlsStream;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::{Connected, TcpConnectInfo};

use crate::security::Security;

/// A TLS handshake that takes longer is abandoned (a silent client holds nothing for longer).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; the accept loop waits for a slot beyond this.
const MAX_HANDSHAKES: usize = 256;

/// What the server knows about a connection: in every request's extensions.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub remote_addr: Option<SocketAddr>,
    pub local_addr: Option<SocketAddr>,
    /// The subject common name of the client certificate, verified against `--tls-client-ca`.
    pub client_subject: Option<Arc<str>>,
    activity: Arc<Activity>,
}

/// Requests in progress on a connection and when the last one ended.
#[derive(Debug)]
struct Activity {
    started: Instant,
    in_progress: AtomicUsize,
    /// Milliseconds after `started` of the last request start or end.
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity { started: Instant::now(), in_progress: AtomicUsize::new(0), last_ms: AtomicU64::new(0) }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Release);
    }

    /// When the connection turns idle: `None` while a request is in progress.
    fn idle_at(&self, idle: Duration) -> Option<Instant> {
        if self.in_progress.load(Ordering::Acquire) > 0 {
            return None;
        }
        Some(self.started + Duration::from_millis(self.last_ms.load(Ordering::Acquire)) + idle)
    }
}

/// Marks one request in progress until dropped (when its response body is done).
#[derive(Debug)]
struct InProgress(Arc<Activity>);

impl InProgress {
    fn begin(activity: Arc<Activity>) -> InProgress {
        activity.in_progress.fetch_add(1, Ordering::AcqRel);
        activity.touch();
        InProgress(activity)
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_progress.fetch_sub(1, Ordering::AcqRel);
    }
}

#[derive(Debug)]
enum Io {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// An accepted connection (TLS or not) that reads EOF once idle for the idle timeout.
#[derive(Debug)]
pub struct Conn {
    io: Io,
    info: ConnInfo,
    idle_timeout: Option<Duration>,
    idle_timer: Option<Pin<Box<Sleep>>>,
    /// Bytes written but not yet sent (see the [`AsyncWrite`] impl).
    pending: Vec<u8>,
}

impl Conn {
    fn new(io: Io, client_subject: Option<Arc<str>>, idle_timeout: Option<Duration>) -> Conn {
        let tcp = match &io {
            Io::Plain(tcp) => tcp,
            Io::Tls(tls) => tls.get_ref().0,
        };
        let info = ConnInfo {
            remote_addr: tcp.peer_addr().ok(),
            local_addr: tcp.local_addr().ok(),
            client_subject,
            activity: Arc::new(Activity::new()),
        };
        Conn { io, info, idle_timeout, idle_timer: None, pending: Vec::new() }
    }

    /// Whether the connection has been idle for the idle timeout; if not, a timer wakes the reader
    /// when it might be.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(idle) = self.idle_timeout else { return false };
        loop {
            let now = Instant::now();
            let deadline = match self.info.activity.idle_at(idle) {
                Some(at) if at <= now => {
                    tracing::debug!(remote = ?self.info.remote_addr, "closing an idle connection");
                    return true;
                }
                Some(at) => at,
                // Busy: look again one idle period from now (the request may have ended by then),
                // keeping a pending timer rather than resetting it on every read.
                None => match &self.idle_timer {
                    Some(timer) if !timer.is_elapsed() => timer.deadline(),
                    _ => now + idle,
                },
            };
            let timer = self.idle_timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
            if timer.deadline() != deadline {
                timer.as_mut().reset(deadline);
            }
            if timer.as_mut().poll(cx).is_pending() {
                return false;
            }
        }
    }
}

impl Connected for Conn {
    type ConnectInfo = ConnInfo;

    fn connect_info(&self) -> ConnInfo {
        self.info.clone()
    }
}

impl AsyncRead for Conn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.poll_idle(cx) {
            return Poll::Ready(Ok(())); // EOF: hyper closes the connection
        }
        match &mut this.io {
            Io::Plain(io) => Pin::new(io).poll_read(cx, buf),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_read(cx, buf),
        }
    }
}

/// Writes no bigger than this wait in the connection's buffer for the next write or the flush.
const COALESCED: usize = 4096;

impl Io {
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self {
            Io::Plain(io) => Pin::new(io).poll_write(cx, buf),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(&mut self, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        match self {
            Io::Plain(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Io::Plain(io) => Pin::new(io).poll_flush(cx),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Io::Plain(io) => Pin::new(io).poll_shutdown(cx),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_shutdown(cx),
        }
    }
}

impl Conn {
    /// Writes out the buffered bytes.
    fn poll_write_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            match std::task::ready!(self.io.poll_write(cx, &self.pending))? {
                0 => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                n => drop(self.pending.drain(..n)),
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// The connection tells h2 it has no vectored writes. h2 then copies every DATA frame under 1 KB into
/// its write buffer beside the answer's headers and trailers, where with vectored writes it sends a
/// frame of 256 bytes or more from its own buffer and the trailers with another system call: a small
/// answer (GetCode's BASIC view, in frames of [`COPIED_FRAME`] bytes) leaves in one write, as an Echo
/// does. So that a big frame still leaves with the bytes before it, small writes are kept here until
/// the flush, or sent in front of the next big write (one `writev`).
impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.pending.len() + buf.len() <= COALESCED {
            this.pending.extend_from_slice(buf);
            return Poll::Ready(Ok(buf.len()));
        }
        loop {
            if this.pending.is_empty() {
                return this.io.poll_write(cx, buf);
            }
            let parts = [io::IoSlice::new(&this.pending), io::IoSlice::new(buf)];
            let n = std::task::ready!(this.io.poll_write_vectored(cx, &parts))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            let buffered = this.pending.len();
            this.pending.drain(..n.min(buffered));
            if n > buffered {
                return Poll::Ready(Ok(n - buffered));
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        false
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_write_pending(cx))?;
        this.io.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_write_pending(cx))?;
        this.io.poll_shutdown(cx)
    }
}

/// The connections accepted on `listener`, TLS-wrapped when `security` has a certificate. The accept
/// loop stops (and the listener closes) when the server drops the stream at shutdown. A listener
/// beyond loopback without TLS is warned about, in the log and on stderr.
pub(crate) fn incoming(listener: TcpListener, security: Arc<Security>) -> impl Stream<Item = Result<Conn, Infallible>> {
    if let Ok(address) = listener.local_addr()
        && !address.ip().is_loopback()
        && !security.tls_enabled()
    {
        let warning = format!(
            "listening on {address} beyond loopback WITHOUT TLS: traffic and bearer tokens travel in clear text; \
             use --tls-cert and --tls-key"
        );
        tracing::warn!("{warning}");
        eprintln!("cptkit-server: WARNING: {warning}");
    }
    let (sender, receiver) = mpsc::channel(64);
    tokio::spawn(accept_loop(listener, security, sender));
    ReceiverStream::new(receiver)
}

async fn accept_loop(listener: TcpListener, security: Arc<Security>, sender: mpsc::Sender<Result<Conn, Infallible>>) {
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let accepted = tokio::select! {
            () = sender.closed() => return,
            accepted = listener.accept() => accepted,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {e}");
        }
        let Some(tls) = security.tls_config() else {
            let conn = Conn::new(Io::Plain(tcp), None, security.idle_timeout);
            if sender.send(Ok(conn)).await.is_err() {
                return;
            }
            continue;
        };
        let permit = tokio::select! {
            () = sender.closed() => return,
            permit = handshakes.clone().acquire_owned() => permit,
        };
        let sender = sender.clone();
        let idle_timeout = security.idle_timeout;
        tokio::spawn(async move {
            let _permit = permit;
            let remote = tcp.peer_addr().ok();
            let acceptor = tokio_rustls::TlsAcceptor::from(tls);
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => {
                    let subject =
                        stream.get_ref().1.peer_certificates().and_then(|chain| chain.first()).and_then(common_name);
                    let conn = Conn::new(Io::Tls(Box::new(stream)), subject, idle_timeout);
                    let _ = sender.send(Ok(conn)).await;
                }
                Ok(Err(e)) => tracing::info!(?remote, "TLS handshake failed: {e}"),
                Err(_) => tracing::info!(?remote, "TLS handshake timed out"),
            }
        });
    }
}

/// The subject common name of a (verified) client certificate.
fn common_name(certificate: &rustls_pki_types::CertificateDer<'_>) -> Option<Arc<str>> {
    let (_, parsed) = x509_parser::parse_x509_certificate(certificate).ok()?;
    let name = parsed.subject().iter_common_name().next()?.as_str().ok()?;
    Some(Arc::from(name))
}

/// A tower layer marking each request in progress on its connection (for the idle timeout) and
/// putting tonic's [`TcpConnectInfo`] beside [`ConnInfo`], so `Request::remote_addr` works.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConnectionLayer;

impl<S> tower::Layer<S> for ConnectionLayer {
    type Service = ConnectionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ConnectionService { inner }
    }
}

#[derive(Debug, Clone)]
pub struct ConnectionService<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for ConnectionService<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<ActiveBody<ResBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<ReqBody>) -> Self::Future {
        let in_progress = request.extensions().get::<ConnInfo>().cloned().map(|info| {
            request
                .extensions_mut()
                .insert(TcpConnectInfo { local_addr: info.local_addr, remote_addr: info.remote_addr });
            InProgress::begin(info.activity)
        });
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|inner| ActiveBody { inner, rest: Bytes::new(), _in_progress: in_progress }))
        })
    }
}

/// The largest DATA frame h2 copies into its write buffer on a connection that is not vectored (it
/// sends 1 KB or more by itself: `CHAIN_THRESHOLD_WITHOUT_VECTORED_IO` in h2's `framed_write.rs`).
const COPIED_FRAME: usize = 1023;
/// Answers up to this size are handed to HTTP/2 in frames of [`COPIED_FRAME`] bytes, so they leave in
/// one write with their headers and trailers; bigger ones go as they are (more frames would cost the
/// client more than the write they save).
const SLICED_UP_TO: usize = 4096;

/// A response body that keeps its request in progress until it is done (dropped), and hands a small
/// answer to HTTP/2 in frames it copies (see [`Conn`]'s `AsyncWrite`).
#[derive(Debug)]
pub struct ActiveBody<B> {
    inner: B,
    /// The rest of an answer being sliced.
    rest: Bytes,
    _in_progress: Option<InProgress>,
}

impl<B: Body<Data = Bytes> + Unpin> Body for ActiveBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        if !this.rest.is_empty() {
            let n = this.rest.len().min(COPIED_FRAME);
            return Poll::Ready(Some(Ok(Frame::data(this.rest.split_to(n)))));
        }
        let frame = std::task::ready!(Pin::new(&mut this.inner).poll_frame(cx));
        Poll::Ready(frame.map(|frame| {
            frame.map(|frame| match frame.into_data() {
                Ok(mut data) if data.len() > COPIED_FRAME && data.len() <= SLICED_UP_TO => {
                    this.rest = data.split_off(COPIED_FRAME);
                    Frame::data(data)
                }
                Ok(data) => Frame::data(data),
                Err(frame) => frame,
            })
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        // The slices not handed over yet are still to come.
        let (inner, rest) = (self.inner.size_hint(), self.rest.len() as u64);
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower() + rest);
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + rest);
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::convert::Infallible;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A body of given frames.
    struct Frames(VecDeque<Frame<Bytes>>);

    impl Body for Frames {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            Poll::Ready(self.get_mut().0.pop_front().map(Ok))
        }

        fn is_end_stream(&self) -> bool {
            self.0.is_empty()
        }

        fn size_hint(&self) -> SizeHint {
            SizeHint::with_exact(self.0.iter().filter_map(|f| f.data_ref()).map(|d| d.len() as u64).sum())
        }
    }

    /// The data frame sizes an answer of `len` bytes (and trailers) goes to HTTP/2 in, and the bytes.
    fn frames_of(len: usize) -> (Vec<usize>, Vec<u8>) {
        let answer: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let frames = [Frame::data(Bytes::from(answer)), Frame::trailers(http::HeaderMap::new())];
        let mut body = ActiveBody { inner: Frames(frames.into()), rest: Bytes::new(), _in_progress: None };
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let (mut sizes, mut bytes, mut trailers) = (Vec::new(), Vec::new(), 0);
        while let Poll::Ready(Some(Ok(frame))) = Pin::new(&mut body).poll_frame(&mut cx) {
            assert_eq!(trailers, 0, "a frame after the trailers");
            match frame.into_data() {
                Ok(data) => {
                    sizes.push(data.len());
                    bytes.extend_from_slice(&data);
                    // What is still to come, the slices held back included.
                    assert_eq!(body.size_hint().exact(), Some((len - bytes.len()) as u64));
                    assert!(!body.is_end_stream(), "the trailers are still to come");
                }
                Err(frame) => trailers += usize::from(frame.is_trailers()),
            }
        }
        assert_eq!(trailers, 1);
        assert!(body.is_end_stream());
        (sizes, bytes)
    }

    #[test]
    fn small_answers_go_in_frames_h2_copies_big_ones_whole() {
        for (len, sizes) in [
            (0, vec![0]),
            (900, vec![900]),
            (COPIED_FRAME, vec![COPIED_FRAME]),
            (1503, vec![COPIED_FRAME, 1503 - COPIED_FRAME]),
            (SLICED_UP_TO, vec![COPIED_FRAME, COPIED_FRAME, COPIED_FRAME, COPIED_FRAME, 4]),
            (SLICED_UP_TO + 1, vec![SLICED_UP_TO + 1]),
            (22_111, vec![22_111]),
        ] {
            let (got, bytes) = frames_of(len);
            assert_eq!(got, sizes, "{len}");
            assert_eq!(bytes, (0..len).map(|i| i as u8).collect::<Vec<_>>(), "{len}");
        }
    }

    /// A TCP pair whose buffers hold 4 KB, so that writes stop part-way and wait for the peer.
    async fn narrow_pair() -> (TcpStream, TcpStream) {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_send_buffer_size(4096).unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(1).unwrap();
        let peer = tokio::net::TcpSocket::new_v4().unwrap();
        peer.set_recv_buffer_size(4096).unwrap();
        let peer = peer.connect(listener.local_addr().unwrap()).await.unwrap();
        (listener.accept().await.unwrap().0, peer)
    }

    /// Writes of every size (1 byte to 20 KB, flushed now and then) to a peer that reads slowly: every
    /// byte arrives in order, the buffer never holds more than [`COALESCED`] bytes, a small write
    /// waits for the flush, and writes did stop part-way (the paths being tested were taken).
    async fn writes_arrive_in_order(mut conn: Conn, mut peer: impl AsyncRead + Unpin + Send + 'static) {
        let mut seed: u64 = 12_345;
        let pieces: Vec<Vec<u8>> = (0..3_000u32)
            .map(|i| {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let len = 1 + (seed >> 40) as usize % [100, 1_100, 5_000, 20_000][(seed >> 33) as usize % 4];
                (0..len).map(|j| (i as usize * 31 + j) as u8).collect()
            })
            .collect();
        let sent = pieces.concat();
        // And 20 bytes more at the end.
        let total = sent.len() + 20;
        let reader = tokio::spawn(async move {
            let (mut received, mut chunk) = (Vec::with_capacity(total), [0; 700]);
            for reads in 1.. {
                if received.len() == total {
                    break;
                }
                let n = peer.read(&mut chunk).await.unwrap();
                assert!(n > 0, "the stream ended after {} bytes", received.len());
                received.extend_from_slice(&chunk[..n]);
                if reads % 50 == 0 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            received
        });
        let mut stopped = 0;
        for (i, piece) in pieces.iter().enumerate() {
            let mut written = 0;
            while written < piece.len() {
                let n = std::future::poll_fn(|cx| {
                    let poll = Pin::new(&mut conn).poll_write(cx, &piece[written..]);
                    stopped += usize::from(poll.is_pending());
                    assert!(conn.pending.len() <= COALESCED);
                    poll
                })
                .await
                .unwrap();
                assert!(n > 0);
                stopped += usize::from(written + n < piece.len());
                written += n;
            }
            if i % 97 == 0 {
                conn.flush().await.unwrap();
                assert!(conn.pending.is_empty());
            }
        }
        conn.flush().await.unwrap();
        conn.write_all(&[1; 20]).await.unwrap();
        assert_eq!(conn.pending.len(), 20, "a small write waits for the flush");
        conn.flush().await.unwrap();
        let received = reader.await.unwrap();
        assert!(received.len() == total && received[..sent.len()] == sent[..], "bytes lost or out of order");
        assert!(stopped > 0, "no write stopped part-way: the narrow buffers did not narrow");
        conn.shutdown().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_to_a_slow_peer_arrive_in_order() {
        let (accepted, peer) = narrow_pair().await;
        writes_arrive_in_order(Conn::new(Io::Plain(accepted), None, None), peer).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_over_tls_to_a_slow_peer_arrive_in_order() {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let cert = certified.cert.der().clone();
        let key = rustls_pki_types::PrivateKeyDer::try_from(certified.signing_key.serialize_der()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).unwrap();
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let (accepted, peer) = narrow_pair().await;
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let (accepted, peer) = tokio::join!(
            tokio_rustls::TlsAcceptor::from(Arc::new(server)).accept(accepted),
            tokio_rustls::TlsConnector::from(Arc::new(client)).connect(name, peer)
        );
        writes_arrive_in_order(Conn::new(Io::Tls(Box::new(accepted.unwrap())), None, None), peer.unwrap()).await;
    }
}
