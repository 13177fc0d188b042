import fs from 'node:fs'
import path from 'node:path'

/**
 * An nginx.conf for one bench column in `dir` (1 worker, in the foreground, no access log, temp paths under dir):
 * `body` goes inside `http { }`, after `httpExtra` (directives only some columns want, such as HTTP/2's).
 */
export function nginxConf (dir: string, body: string, httpExtra = ''): string {
  const tmp = path.join(dir, 'tmp')
  fs.mkdirSync(tmp, { recursive: true, mode: 0o777 })
  fs.chmodSync(tmp, 0o777)
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${tmp}/body; proxy_temp_path ${tmp}/proxy; fastcgi_temp_path ${tmp}/fcgi;
  uwsgi_temp_path ${tmp}/uwsgi; scgi_temp_path ${tmp}/scgi;
  keepalive_requests 1000000;
${httpExtra === '' ? '' : `  ${httpExtra}\n`}  ${body}
}
`
}

/** The nginx proxy column's server block: keep-alive to the upstream, no buffering, as a Knative sidecar would. */
export function nginxProxyServer (listenPort: number, upstreamPort: number): string {
  return `
  upstream user { server 127.0.0.1:${upstreamPort}; keepalive 256; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:${listenPort};
    location / { proxy_pass http://user; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; }
  }`
}
