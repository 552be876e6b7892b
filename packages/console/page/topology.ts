/// <reference lib="dom" />
/**
 * The topology view: producers → topics → consumer groups → services, in four columns of buttons
 * over an SVG of edges labelled with their live rates; groups show their lag. It polls the server
 * (one request at a time) so rates and lag move; clicking a node opens its details. A table below
 * says the same for screen readers and the keyboard.
 */
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import type {
  TopologyView as Topology,
  TopologyEdgeView,
  TopologyGroupView,
  TopologyServiceView,
  TopologyTopicView,
} from '../src/api-types.ts';
import { api } from './api.ts';

/** How often the view reads the topology again, in ms (the next read starts after the previous ended). */
const POLL_MS = 2000;
/** Layout of the graph, in px. */
const ROW_PX = 44;
const NODE_WIDTH_PX = 210;
const NODE_HEIGHT_PX = 34;
const COLUMN_PX = 270;
const COLUMNS = ['Producers', 'Topics', 'Consumer groups', 'Consumers'] as const;
/** Read by screen readers, not shown. */
const VISUALLY_HIDDEN =
  'position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap';

/** A node of the graph: its id, column and what the button says. */
interface GraphNode {
  readonly id: string;
  readonly column: number;
  readonly label: string;
  readonly detail: string;
  /** Said before the label to screen readers only (the column says it to the eye). */
  readonly prefix: string;
  readonly warn: boolean;
}

/** `12.3/s`, or `–` when the rate is not known yet. */
export function rateText(rate: number | null): string {
  if (rate === null) return '–';
  return `${rate >= 10 ? Math.round(rate) : rate.toFixed(1)}/s`;
}

function nodesOf(topology: Topology): GraphNode[] {
  const producing = new Set(topology.edges.filter((e) => e.kind === 'produces').map((e) => e.from));
  const handling = new Set(topology.edges.filter((e) => e.kind === 'handles').map((e) => e.to));
  const nodes: GraphNode[] = [];
  for (const service of topology.services) {
    const id = `service:${service.name}`;
    const detail = instancesText(service);
    // A service that neither produces nor handles (yet) still shows, among the producers.
    if (producing.has(id) || !handling.has(id)) {
      nodes.push({
        id,
        column: 0,
        label: service.name,
        detail,
        prefix: 'Service',
        warn: service.instances === 0,
      });
    }
    if (handling.has(id)) {
      nodes.push({
        id,
        column: 3,
        label: service.name,
        detail,
        prefix: 'Consuming service',
        warn: service.instances === 0,
      });
    }
  }
  for (const topic of topology.topics) {
    const detail = `${rateText(topic.ratePerSecond)} · ${topic.messages} msgs`;
    nodes.push({
      id: `topic:${topic.name}`,
      column: 1,
      label: topic.name,
      detail,
      prefix: 'Topic',
      warn: false,
    });
  }
  for (const group of topology.groups) {
    const members = group.members === null ? '' : ` · ${group.members} live`;
    const detail = `lag ${group.lag} · ${rateText(group.ratePerSecond)}${members}`;
    nodes.push({
      id: `group:${group.group}`,
      column: 2,
      label: group.group,
      detail,
      prefix: 'Group',
      warn: group.lag !== '0',
    });
  }
  return nodes;
}

function instancesText(service: TopologyServiceView): string {
  if (!service.announced) return 'not announced';
  const silent = service.silentInstances > 0 ? `, ${service.silentInstances} silent` : '';
  if (service.instances === 0 && service.silentInstances === 0) return 'stopped';
  return `${service.instances} instance${service.instances === 1 ? '' : 's'}${silent}`;
}

/** Producers → topics → groups → services, with live rates and lag; click a node to open it. */
export function TopologyView() {
  const [topology, setTopology] = useState<Topology | undefined>(undefined);
  const [error, setError] = useState('');
  const [selected, setSelected] = useState<string | undefined>(undefined);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = () =>
      api
        .topology()
        .then(
          (next) => {
            setTopology(next);
            setError('');
          },
          (failure: Error) => setError(failure.message),
        )
        .finally(() => {
          if (!stopped) timer = setTimeout(poll, POLL_MS);
        });
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, []);
  if (topology === undefined)
    return error === '' ? html`<p>Loading…</p>` : html`<p role="alert">${error}</p>`;
  const nodes = nodesOf(topology);
  const summary =
    `${topology.services.length} services, ${topology.topics.length} topics, ${topology.groups.length} groups; ` +
    `rates over ${topology.rateWindowMs / 1000} s, refreshed every ${POLL_MS / 1000} s; select a node to open it` +
    (topology.unsampledTopics > 0
      ? `; producers of ${topology.unsampledTopics} topics from announcements only (${topology.topics.length - topology.unsampledTopics} sampled)`
      : '');
  return html`<p data-testid="topology-summary">${summary}</p>
    ${error === '' ? null : html`<p role="alert">${error}</p>`}
    <${Graph} topology=${topology} nodes=${nodes} selected=${selected} onSelect=${setSelected} />
    ${selected === undefined ? null : html`<${Details} topology=${topology} id=${selected} />`}
    <${TopologyTable} topology=${topology} />
    <h3>Services</h3>
    <ul aria-label="Services">${topology.services.map(
      (service) => html`<li data-service=${service.name}>${service.name} (${instancesText(service)})</li>`,
    )}</ul>`;
}

function Graph(props: {
  topology: Topology;
  nodes: GraphNode[];
  selected: string | undefined;
  onSelect: (id: string) => void;
}) {
  const rows = ordered(props.nodes, props.topology.edges);
  const position = new Map<string, { x: number; y: number }>();
  for (const [index, column] of rows.entries()) {
    for (const [row, node] of column.entries()) {
      position.set(`${index}:${node.id}`, { x: index * COLUMN_PX, y: 24 + row * ROW_PX });
    }
  }
  const height = 24 + Math.max(1, ...rows.map((column) => column.length)) * ROW_PX;
  const width = 3 * COLUMN_PX + NODE_WIDTH_PX;
  const columnOf = (kind: TopologyEdgeView['kind']) =>
    kind === 'produces' ? [0, 1] : kind === 'consumes' ? [1, 2] : [2, 3];
  const lines = props.topology.edges.flatMap((edge) => {
    const [fromColumn, toColumn] = columnOf(edge.kind) as [number, number];
    const from = position.get(`${fromColumn}:${edge.from}`);
    const to = position.get(`${toColumn}:${edge.to}`);
    if (from === undefined || to === undefined) return [];
    const [x1, y1, x2, y2] = [
      from.x + NODE_WIDTH_PX,
      from.y + NODE_HEIGHT_PX / 2,
      to.x,
      to.y + NODE_HEIGHT_PX / 2,
    ];
    const middle = (x1 + x2) / 2;
    // Where edges fan out or converge, the label sits at the end with one edge: a topic has
    // usually one producer, a group one consuming service.
    const label =
      edge.kind === 'produces'
        ? { x: x2 - 4, y: y2 - 4, anchor: 'end' }
        : edge.kind === 'handles'
          ? { x: x1 + 4, y: y1 - 4, anchor: 'start' }
          : { x: middle, y: (y1 + y2) / 2 - 3, anchor: 'middle' };
    const active =
      props.selected !== undefined && (edge.from === props.selected || edge.to === props.selected);
    return [
      html`<g data-edge=${`${edge.from}>${edge.to}`}>
        <path d=${`M${x1},${y1} C${middle},${y1} ${middle},${y2} ${x2},${y2}`} fill="none"
          stroke=${active ? '#0057b8' : '#9aa5b1'} stroke-width=${active ? 2.5 : 1.5} />
        ${
          // Consumes edges converge on the groups, so their rates show when an end is selected
          // (the group's own rate is always on its node).
          edge.ratePerSecond === null || (edge.kind === 'consumes' && !active)
            ? null
            : html`<text x=${label.x} y=${label.y} text-anchor=${label.anchor} font-size="11" fill="#222"
                paint-order="stroke" stroke="#fafafa" stroke-width="3">${rateText(edge.ratePerSecond)}</text>`
        }
      </g>`,
    ];
  });
  return html`<div class="topology-graph" style=${`position:relative;width:${width}px;height:${height}px;overflow:visible`}>
    <svg width=${width} height=${height} aria-hidden="true" style="position:absolute;left:0;top:0">
      ${COLUMNS.map((title, index) => html`<text x=${index * COLUMN_PX} y="14" font-size="12" font-weight="bold" fill="#333">${title}</text>`)}
      ${lines}
    </svg>
    ${rows.flatMap((column, index) =>
      column.map((node) => {
        const at = position.get(`${index}:${node.id}`)!;
        const chosen = props.selected === node.id;
        return html`<button type="button" data-node=${node.id} aria-pressed=${chosen}
          onClick=${() => props.onSelect(node.id)}
          style=${
            `position:absolute;left:${at.x}px;top:${at.y}px;width:${NODE_WIDTH_PX}px;height:${NODE_HEIGHT_PX}px;` +
            `text-align:left;padding:2px 6px;border:1px solid ${chosen ? '#0057b8' : '#7b8794'};border-radius:4px;` +
            `background:${node.warn ? '#fff4e5' : '#fff'};color:#111;overflow:hidden;line-height:1.15;font-size:12px;cursor:pointer`
          }>
          <span style=${VISUALLY_HIDDEN}>${node.prefix} </span>
          <strong style="display:block;white-space:nowrap;overflow:hidden;text-overflow:ellipsis">${node.label}</strong>
          <span style=${VISUALLY_HIDDEN}> </span><span style="color:#444">${node.detail}</span>
        </button>`;
      }),
    )}
  </div>`;
}

/**
 * The nodes of each column, each column after the first sorted by the mean row of the nodes that
 * feed it (one barycentre pass), so edges cross less.
 */
function ordered(nodes: readonly GraphNode[], edges: readonly TopologyEdgeView[]): GraphNode[][] {
  const columns = [0, 1, 2, 3].map((column) => nodes.filter((node) => node.column === column));
  for (let column = 1; column < columns.length; column++) {
    const rowOf = new Map(columns[column - 1]!.map((node, row) => [node.id, row]));
    const meanRow = (node: GraphNode) => {
      const rows = edges.flatMap((edge) =>
        edge.to === node.id && rowOf.has(edge.from) ? [rowOf.get(edge.from)!] : [],
      );
      return rows.length === 0
        ? Number.MAX_SAFE_INTEGER
        : rows.reduce((sum, row) => sum + row, 0) / rows.length;
    };
    const keys = new Map(columns[column]!.map((node) => [node.id, meanRow(node)]));
    columns[column]!.sort((a, b) => keys.get(a.id)! - keys.get(b.id)! || a.label.localeCompare(b.label));
  }
  return columns;
}

/** What a clicked node opens: a service's instances, contracts and handlers; a topic's or group's numbers. */
function Details(props: { topology: Topology; id: string }) {
  const [kind, ...rest] = props.id.split(':');
  const name = rest.join(':');
  const edgesTo = props.topology.edges.filter((edge) => edge.to === props.id);
  const edgesFrom = props.topology.edges.filter((edge) => edge.from === props.id);
  const ends = (edges: TopologyEdgeView[], end: 'from' | 'to') =>
    edges
      .map(
        (edge) =>
          `${edge[end].slice(edge[end].indexOf(':') + 1)} (${rateText(edge.ratePerSecond)}${edge.lag === undefined ? '' : `, lag ${edge.lag}`})`,
      )
      .join(', ') || '—';
  let body: unknown;
  if (kind === 'service') {
    const service = props.topology.services.find((entry) => entry.name === name) as TopologyServiceView;
    body = html`<p>${instancesText(service)}; transport ${service.transports.join(', ') || '?'}; Herald ${service.heraldVersions.join(', ') || '?'}${
      service.lastSeenMs === null ? '' : `; last announced ${new Date(service.lastSeenMs).toISOString()}`
    }</p>
      <table aria-label="Contracts it publishes"><thead><tr><th>Type</th><th>Kind</th><th>Topic</th></tr></thead>
        <tbody>${service.publishes.map((entry) => html`<tr><td>${entry.type}</td><td>${entry.kind}</td><td>${entry.topic}</td></tr>`)}</tbody></table>
      <table aria-label="Its handlers"><thead><tr><th>Group</th><th>Topic</th><th>Types</th></tr></thead>
        <tbody>${service.handlers.map((entry) => html`<tr><td>${entry.group}</td><td>${entry.topic}</td><td>${entry.types.join(', ')}</td></tr>`)}</tbody></table>`;
  } else if (kind === 'topic') {
    const topic = props.topology.topics.find((entry) => entry.name === name) as TopologyTopicView;
    body = html`<p>${topic.partitions} partition(s), ${topic.messages} messages retained, ${rateText(topic.ratePerSecond)}</p>
      <p>Producers: ${ends(edgesTo, 'from')}</p><p>Consumer groups: ${ends(edgesFrom, 'to')}</p>`;
  } else {
    const group = props.topology.groups.find((entry) => entry.group === name) as TopologyGroupView;
    body = html`<p>Lag ${group.lag} (oldest unconsumed ${group.timeLagMs} ms), ${group.members ?? 'unknown'} live member(s), ${rateText(group.ratePerSecond)}</p>
      <p>Reads: ${ends(edgesTo, 'from')}</p><p>Handled by: ${group.services.join(', ') || '—'}</p>`;
  }
  return html`<section aria-label=${`Details of ${kind} ${name}`} data-testid="topology-details">
    <h3>${kind} ${name}</h3>${body}</section>`;
}

/** The graph as a table: each topic with its producers, rate and consumer groups with their lag. */
function TopologyTable(props: { topology: Topology }) {
  const { topology } = props;
  const short = (id: string) => id.slice(id.indexOf(':') + 1);
  return html`<table aria-label="Topology">
    <thead><tr><th>Producers</th><th>Topic</th><th>Rate</th><th>Consumer groups (lag)</th></tr></thead>
    <tbody>${topology.topics.map(
      (topic) => html`<tr>
      <td>${topology.edges
        .filter((edge) => edge.kind === 'produces' && edge.to === `topic:${topic.name}`)
        .map((edge) => short(edge.from))
        .join(', ')}</td>
      <td>${topic.name}</td>
      <td>${rateText(topic.ratePerSecond)}</td>
      <td>${topology.edges
        .filter((edge) => edge.kind === 'consumes' && edge.from === `topic:${topic.name}`)
        .map((edge) => `${short(edge.to)} (${edge.lag ?? '?'})`)
        .join(', ')}</td>
    </tr>`,
    )}</tbody>
  </table>`;
}
