import type { ApiEvent, Result } from '@apiwatch/core';
import { parseEnvoyRecord } from './envoy.ts';
import type { ParseContext, ParseError, Parser, RawRecord } from './types.ts';

/**
 * Istio sidecar and gateway access logs (formats.md §2): the default text format of Istio >= 1.9
 * (21 tokens after the time: RESPONSE_CODE_DETAILS, CONNECTION_TERMINATION_DETAILS,
 * UPSTREAM_CLUSTER_RAW, the downstream addresses, REQUESTED_SERVER_NAME and ROUTE_NAME) and of
 * older Istio (20 tokens), and `accessLogEncoding: JSON` (EnvoyJSONLogFormatIstio keys, in any
 * order, strings with "-" or numbers with null). Istio proxies are Envoy, so the record reader
 * is Envoy's; what differs is the layout, which the reader tells apart per line.
 *
 * A request between two sidecars is logged twice (outbound by the caller's proxy, inbound by the
 * callee's) with the same x-request-id. The event id hashes the whole record (buildEvent), never
 * the request id alone, so both are stored and joined on request.requestId (docs/formats/istio.md).
 */
export const istioParser: Parser = {
  id: 'istio',
  title: 'Istio access log (default text format and JSON, auto-detected)',
  framing: 'auto',
  parse(record: RawRecord, ctx: ParseContext): Result<ApiEvent[], ParseError> {
    return parseEnvoyRecord(record, ctx, 'istio');
  },
};
