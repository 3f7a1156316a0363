// libraries the tests use that ship no types

/** Encrypted Content-Encoding (RFC 8188), as web-push uses it: the test push service decrypts with it */
declare module 'http_ece' {
  export function decrypt(buffer: Buffer, params: { version: 'aes128gcm'; privateKey: import('node:crypto').ECDH; authSecret: string | Buffer }): Buffer;
}

/** Prometheus text format → metric families (the metrics test parses /metrics with it) */
declare module 'parse-prometheus-text-format' {
  export interface Sample { value: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string; sum?: string }
  export interface MetricFamily { name: string; help: string; type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED'; metrics: Sample[] }
  function parsePrometheusTextFormat(text: string): MetricFamily[];
  export default parsePrometheusTextFormat;
}
