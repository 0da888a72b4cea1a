import type { SlackReceiverConfigValue } from '@apiwatch/core';
import type { Button, KnownBlock } from '@slack/types';
import type { Notification } from '../notification.ts';
import { evidenceLine, findingUrl, headline, where, who } from './format.ts';
import { postJson } from './http.ts';
import type { Receiver, SendResult } from './types.ts';

/**
 * Slack incoming webhook: one Block Kit message per notification — what (detector, severity,
 * summary), who (the entity), where (route, tenant, environment), evidence, the recommended action
 * and links to the dashboard and the finding. Blocks are typed with Slack's own `@slack/types`;
 * Slack's limits (header 150 chars, section 3000, 10 fields, 50 blocks) are respected here.
 */
export function slackMessage(n: Notification): { text: string; blocks: KnownBlock[] } {
  const text = headline(n);
  const blocks: KnownBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: clip(text, 150), emoji: false } },
  ];
  if (n.type === 'response_paused') {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(n.message ?? '', 3000) } });
    return { text, blocks };
  }
  const total = n.counts.firing + n.counts.resolved;
  blocks.push({
    type: 'context',
    elements: [
      {
        type: 'mrkdwn',
        text: clip(
          `${n.counts.firing} firing · ${n.counts.resolved} resolved · ${n.counts.acknowledged} acknowledged · ${n.counts.updates} updates${n.counts.omitted > 0 ? ` · ${n.counts.omitted} not listed` : ''} · group \`${n.groupKey.slice(0, 12)}\``,
          3000,
        ),
      },
    ],
  });
  // At most 10 findings in detail: 4 blocks each keeps far below Slack's 50-block cap.
  for (const f of n.findings.slice(0, 10)) {
    blocks.push({ type: 'divider' });
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: clip(
          `*${esc(f.title)}* — \`${f.detector}\` · *${f.severity}* · ${f.status}\n${esc(f.summary)}`,
          3000,
        ),
      },
      fields: [
        { type: 'mrkdwn', text: clip(`*Who*\n${esc(who(f))}`, 2000) },
        { type: 'mrkdwn', text: clip(`*Where*\n${esc(where(f))}`, 2000) },
        { type: 'mrkdwn', text: clip(`*Evidence*\n${esc(evidenceLine(f))}`, 2000) },
        { type: 'mrkdwn', text: clip(`*OWASP / NIST*\n${f.owasp} · ${f.nist}`, 2000) },
      ],
    });
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: clip(`*Do:* ${esc(f.recommendedAction)}`, 3000) }],
    });
    const url = findingUrl(n, f);
    if (url) {
      blocks.push({
        type: 'actions',
        elements: [
          button('Open finding', url, 'primary'),
          ...(n.dashboardUrl ? [button('Dashboard', n.dashboardUrl)] : []),
        ],
      });
    }
  }
  if (total > 10) {
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: `… and ${total - 10} more in this group.` }],
    });
  }
  return { text, blocks };
}

function button(label: string, url: string, style?: 'primary'): Button {
  return {
    type: 'button',
    text: { type: 'plain_text', text: label },
    url: clip(url, 3000),
    ...(style ? { style } : {}),
  };
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** mrkdwn control characters (Slack's escaping rules: &, <, >). */
function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function createSlackReceiver(config: SlackReceiverConfigValue, url: string): Receiver {
  return {
    id: config.id,
    kind: 'slack',
    send(n: Notification): Promise<SendResult> {
      return postJson(
        url,
        JSON.stringify(slackMessage(n)),
        {},
        config.timeoutMs,
        `slack receiver ${config.id}`,
      );
    },
  };
}
