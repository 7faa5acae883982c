// No imports but types: the alert as AWS Chatbot (Amazon Q Developer in chat applications) renders it.
import type { Alert } from '../core/monitor-types.js';

/** Chatbot's custom-notification schema, version 1.0: the only SNS message format it renders. */
export interface ChatNotification {
  version: '1.0';
  source: 'custom';
  id: string;
  content: { textType: 'client-markdown'; title: string; description: string; keywords: string[] };
  metadata: {
    threadId: string;
    summary: string;
    eventType: string;
    additionalContext: Record<string, string>;
  };
}

/** What Chatbot shows of a title; a chat message stays short, the e-mail alert carries the rest. */
const MAX_TITLE = 250;
const MAX_BODY = 3900;
const CUT = '\n… (cut here: the e-mail alert has the whole message)';

/**
 * The alert as a Chatbot custom notification: the subject as the title, the e-mail's text in a code block
 * (its tables and indented evidence keep their columns in Slack and Teams), one thread per server.
 */
export function chatNotification(a: Alert): ChatNotification {
  // A server's own words inside the message must not close the code block.
  let body = a.message.replace(/`{3,}/g, "'''");
  if (body.length > MAX_BODY) body = `${body.slice(0, MAX_BODY - CUT.length)}${CUT}`;
  return {
    version: '1.0',
    source: 'custom',
    id: a.id,
    content: {
      textType: 'client-markdown',
      title: a.subject.slice(0, MAX_TITLE),
      description: `\`\`\`\n${body}\n\`\`\``,
      keywords: [a.kind, a.severity, a.serverId],
    },
    metadata: {
      threadId: `inboxguard-${a.serverId}`,
      summary: a.subject,
      eventType: `inboxguard-${a.kind}`,
      additionalContext: { serverId: a.serverId, kind: a.kind, severity: a.severity, requirements: a.requirements.join(', ') },
    },
  };
}
