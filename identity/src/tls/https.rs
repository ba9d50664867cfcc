//! One bounded HTTPS GET, the way the `/webapi/find` clients ask it: TCP, TLS (ALPN `http/1.1`)
//! with the caller's configuration, a bodiless request, and an answer read up to a size limit.

use std::io;
use std::sync::Arc;

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Which step of the GET failed; callers word each in their own terms.
#[derive(Debug, thiserror::Error)]
pub enum HttpsGetError {
    #[error("{0}")]
    Dial(io::Error),
    #[error("{0}")]
    Handshake(io::Error),
    #[error("{0}")]
    Exchange(io::Error),
}

/// What to ask and how much of the answer to keep.
pub struct HttpsGet<'a> {
    /// `HOST:PORT`, dialed and sent as `Host`.
    pub addr: &'a str,
    /// The name the server's certificate is checked against.
    pub name: ServerName<'static>,
    pub path: &'a str,
    pub user_agent: &'a str,
    /// The most answer bytes read (status line, headers and body).
    pub max_answer: u64,
}

impl HttpsGet<'_> {
    /// Sends `GET path` asking for JSON with `Connection: close` and returns the raw answer.
    pub async fn send(self, mut config: ClientConfig) -> Result<Vec<u8>, HttpsGetError> {
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let tcp = TcpStream::connect(self.addr)
            .await
            .map_err(HttpsGetError::Dial)?;
        let mut stream = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(self.name, tcp)
            .await
            .map_err(HttpsGetError::Handshake)?;
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\nUser-Agent: {}\r\nConnection: close\r\n\r\n",
            self.path, self.addr, self.user_agent
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(HttpsGetError::Exchange)?;
        let mut answer = Vec::new();
        match (&mut stream)
            .take(self.max_answer)
            .read_to_end(&mut answer)
            .await
        {
            Ok(_) => Ok(answer),
            // Servers that close without close_notify still gave their answer.
            Err(_) if !answer.is_empty() => Ok(answer),
            Err(e) => Err(HttpsGetError::Exchange(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::{AnyCertificate, provider};

    fn insecure() -> ClientConfig {
        ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(AnyCertificate::new())
            .with_no_client_auth()
    }

    fn get(addr: &str) -> HttpsGet<'_> {
        HttpsGet {
            addr,
            name: ServerName::try_from("localhost").unwrap(),
            path: "/webapi/find",
            user_agent: "test",
            max_answer: 1024,
        }
    }

    #[tokio::test]
    async fn each_failing_step_is_named() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed = listener.local_addr().unwrap().to_string();
        drop(listener);
        let err = get(&closed).send(insecure()).await.unwrap_err();
        assert!(matches!(err, HttpsGetError::Dial(_)), "{err:?}");

        let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = plain.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut tcp, _) = plain.accept().await.unwrap();
            let _ = tcp.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").await;
        });
        let err = get(&addr).send(insecure()).await.unwrap_err();
        assert!(matches!(err, HttpsGetError::Handshake(_)), "{err:?}");
    }
}
