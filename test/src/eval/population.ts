import type { Rng } from '../random.ts';

/**
 * Who calls the APIs of the evaluation corpus: tenants with offices behind one NAT address, users
 * at home, in the office or on a phone behind a carrier NAT, partner integrations with API keys,
 * services and batch jobs with machine tokens. Deterministic per seed. Addresses are synthetic
 * (no real network is meant); they are grouped the way real ones are: an office is one address,
 * a carrier NAT pool is a few addresses in one /16 shared by thousands, a cloud fleet is a /16.
 */

export type ApiId = 'demo' | 'crapi' | 'vampi' | 'petstore' | 'b2b';

export const HOSTS: Record<ApiId, string> = {
  demo: 'api.demo.example',
  crapi: 'crapi.example.com',
  vampi: 'vampi.example.com',
  petstore: 'petstore.example.com',
  b2b: 'shop.example.com',
};

/** Spec files (repo-relative) the corpus is templated against, one per API. */
export const SPEC_FILES: Record<ApiId, string> = {
  demo: 'test/fixtures/demo-api/openapi.yaml',
  crapi: 'test/fixtures/public/openapi/crapi-openapi-spec.json',
  vampi: 'test/fixtures/public/openapi/vampi-openapi3.yml',
  petstore: 'test/fixtures/public/openapi/petstore-v3-openapi.yaml',
  b2b: 'test/fixtures/public/openapi/juice-shop-b2b-swagger.yml',
};

export interface Tenant {
  id: string;
  /** Shared egress address of the tenant's office (null: everyone works remotely). */
  officeIp: string | null;
  /** Hours east of UTC where the tenant works. */
  tz: number;
  projects: string[];
  /** Invoice ids are per-tenant sequences: firstInvoice … firstInvoice + invoices - 1. */
  firstInvoice: number;
  invoices: number;
  /** Documents owned by several users of the tenant (team folders). */
  sharedDocs: string[];
}

export type Role = 'member' | 'admin' | 'support';

export interface User {
  api: 'demo' | 'crapi' | 'vampi';
  /** JWT subject. */
  sub: string;
  /** What the user types to log in (Basic username on the demo API). */
  login: string;
  tenant: Tenant | null;
  role: Role;
  scopes: string[];
  /** Mean sessions per working day. */
  activity: number;
  /** Calls per session (mean). */
  intensity: number;
  tz: number;
  inOffice: boolean;
  /** Phone users reach the API through a carrier NAT pool (index into CARRIERS). */
  carrier: number | null;
  homeIp: string;
  ua: string;
  clientId: string;
  typoRate: number;
  docs: string[];
  vehicles: string[];
  orders: number[];
  /** crAPI forum posts and VAmPI books this user wrote. */
  posts: string[];
}

export interface Partner {
  api: 'petstore' | 'b2b' | 'demo';
  name: string;
  /** The API key (petstore, demo) or the machine JWT's client id (b2b). */
  key: string;
  consumerId: string;
  credentialId: string;
  ips: string[];
  tz: number;
  /** Requests per business hour (mean). */
  perHour: number;
  ua: string;
  orders: number[];
}

export interface Population {
  tenants: Tenant[];
  users: User[];
  /** Users per API, for picking victims. */
  byApi: Record<'demo' | 'crapi' | 'vampi', User[]>;
  partners: Partner[];
  /** Every crAPI vehicle id (owned), every crAPI post id, every demo document id. */
  vehicles: string[];
  posts: string[];
  /** Pet ids of the petstore catalogue: 1 … pets. */
  pets: number;
  crapiOrders: number;
  books: string[];
}

/** Carrier NAT pools: a handful of public addresses per carrier, shared by all its phones. */
export const CARRIERS = [
  { name: 'carrier-a', prefix: '172.58.14', size: 12 },
  { name: 'carrier-b', prefix: '107.77.201', size: 8 },
  { name: 'carrier-c', prefix: '92.40.176', size: 10 },
];

const TENANT_NAMES = [
  'globex',
  'initech',
  'acme',
  'umbrella',
  'hooli',
  'stark',
  'wayne',
  'wonka',
  'tyrell',
  'cyberdyne',
  'soylent',
  'vandelay',
];
/** Users per tenant: globex is the big office (hundreds of people behind one NAT address). */
const TENANT_SIZES = [320, 140, 90, 60, 45, 35, 28, 22, 16, 12, 10, 8];
const TENANT_TZ = [1, -5, 0, -8, -8, -5, -6, 1, 9, 2, -3, 0];

const FIRST = [
  'ana',
  'ben',
  'chen',
  'dara',
  'eli',
  'femi',
  'gus',
  'hana',
  'ivan',
  'jo',
  'kai',
  'lena',
  'mo',
  'nia',
  'omar',
  'pia',
  'raj',
  'sara',
  'tom',
  'uma',
  'vic',
  'wen',
  'yusuf',
  'zoe',
];
const LAST = [
  'smith',
  'garcia',
  'kim',
  'nguyen',
  'muller',
  'rossi',
  'silva',
  'tanaka',
  'okafor',
  'novak',
  'larsen',
  'dubois',
  'haddad',
  'costa',
  'ivanova',
  'patel',
];

export const BROWSER_UAS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36',
];
export const MOBILE_UAS = [
  'crAPI/3.4.1 (Android 14; Pixel 8)',
  'crAPI/3.4.1 (iPhone; iOS 18.1)',
  'crAPI/3.3.0 (Android 13; SM-S911B)',
  'DemoApp/2.9 (iPhone; iOS 17.6)',
  'DemoApp/2.9 (Android 14)',
];

function ip(prefix: string, n: number): string {
  return `${prefix}.${n}`;
}

/** A residential address, stable per index. */
export function homeAddress(rng: Rng): string {
  const isp = rng.pick(['73', '24', '86', '81', '2', '98', '67', '109']);
  return `${isp}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`;
}

/** An address in a cloud provider's range (autoscaled fleets, partners, attackers' VPS). */
export function cloudAddress(rng: Rng, prefix?: string): string {
  const p = prefix ?? rng.pick(['34.102', '35.190', '52.14', '3.120', '20.61', '13.77']);
  return `${p}.${rng.int(0, 255)}.${rng.int(1, 254)}`;
}

export function buildPopulation(rng: Rng, scale: number): Population {
  const r = rng.fork('population');
  const tenants: Tenant[] = TENANT_NAMES.map((id, i) => ({
    id,
    officeIp: i < 8 ? ip(`198.51.${100 + i}`, 10 + i) : null,
    tz: TENANT_TZ[i]!,
    projects: Array.from({ length: 6 + Math.round(TENANT_SIZES[i]! / 6) }, () => r.uuid()),
    firstInvoice: 10_000 * (i + 1),
    invoices: 200 + TENANT_SIZES[i]! * 6,
    sharedDocs: Array.from({ length: 4 + Math.round(TENANT_SIZES[i]! / 20) }, () => r.uuid()),
  }));
  // The platform operator's support staff: members of no customer tenant, routinely in all.
  tenants.push({
    id: 'platform',
    officeIp: '198.51.120.5',
    tz: 0,
    projects: [],
    firstInvoice: 1,
    invoices: 0,
    sharedDocs: [],
  });
  const users: User[] = [];
  const byApi: Population['byApi'] = { demo: [], crapi: [], vampi: [] };
  const vehicles: string[] = [];
  const posts: string[] = [];
  const books: string[] = [];
  let crapiOrder = 5000;
  const mk = (api: User['api'], tenant: Tenant | null, n: number, role: Role): User => {
    const first = FIRST[r.int(0, FIRST.length - 1)]!;
    const last = LAST[r.int(0, LAST.length - 1)]!;
    const subHex = r.hex(4);
    const domain = tenant
      ? `${tenant.id}.example`
      : r.pick(['mail.example', 'inbox.example', 'post.example']);
    const login = `${first}.${last}${n}@${domain}`;
    const phone = api === 'crapi' ? r.chance(0.65) : r.chance(0.12);
    const carrier = phone ? r.int(0, CARRIERS.length - 1) : null;
    const scopes =
      role === 'support'
        ? ['projects:read', 'documents:read', 'billing:read', 'support']
        : [
            'documents:read',
            'projects:read',
            ...(r.chance(0.6) ? ['projects:write'] : []),
            ...(r.chance(0.35) || role === 'admin' ? ['billing:read'] : []),
            'orders:read',
            ...(r.chance(0.15) ? ['reports:read'] : []),
            ...(role === 'admin' ? ['admin'] : []),
          ];
    const user: User = {
      api,
      sub: api === 'demo' ? `u_${subHex}${r.hex(2)}`.slice(0, 10) : login,
      login: api === 'vampi' ? `${first}${last}${n}` : login,
      tenant,
      role,
      scopes,
      activity: Math.min(4, r.logNormal(api === 'demo' ? 0.9 : 0.5, 0.7)),
      intensity: Math.min(80, r.logNormal(12, 0.6)),
      tz: tenant ? tenant.tz : r.pick([-8, -5, 0, 1, 2, 5.5, 8]),
      inOffice: tenant?.officeIp != null && r.chance(0.8),
      carrier,
      homeIp: homeAddress(r),
      ua: phone ? r.pick(MOBILE_UAS) : r.pick(BROWSER_UAS),
      clientId: api === 'demo' ? (phone ? 'demo-mobile' : 'demo-web') : `${api}-app`,
      typoRate: r.chance(0.2) ? 0.15 : 0.03,
      docs: api === 'demo' ? Array.from({ length: r.int(2, 25) }, () => r.uuid()) : [],
      vehicles: api === 'crapi' ? Array.from({ length: r.int(1, 2) }, () => r.uuid()) : [],
      orders: api === 'crapi' ? Array.from({ length: r.int(0, 6) }, () => crapiOrder++) : [],
      posts: [],
    };
    if (api === 'crapi') {
      for (let i = r.int(0, 3); i > 0; i--) user.posts.push(r.token(22));
      vehicles.push(...user.vehicles);
      posts.push(...user.posts);
    }
    if (api === 'vampi') {
      for (let i = r.int(0, 2); i > 0; i--)
        user.posts.push(`${r.pick(LAST)}-${r.pick(FIRST)}-${r.int(1, 99)}`);
      books.push(...user.posts);
    }
    return user;
  };
  tenants.forEach((tenant, i) => {
    if (tenant.id === 'platform') return;
    // The big office stays big at every scale: hundreds of users behind one NAT address is the
    // hard negative the IP-keyed detectors must survive.
    const size =
      i === 0
        ? Math.max(200, Math.round(TENANT_SIZES[i]! * scale))
        : Math.max(3, Math.round(TENANT_SIZES[i]! * scale));
    for (let n = 0; n < size; n++) {
      const u = mk('demo', tenant, n, n < Math.max(1, Math.round(size / 40)) ? 'admin' : 'member');
      users.push(u);
      byApi.demo.push(u);
    }
  });
  const platform = tenants[tenants.length - 1]!;
  for (let n = 0; n < 6; n++) {
    const u = mk('demo', platform, n, 'support');
    users.push(u);
    byApi.demo.push(u);
  }
  for (let n = 0; n < Math.round(600 * scale); n++) {
    const u = mk('crapi', null, n, 'member');
    users.push(u);
    byApi.crapi.push(u);
  }
  for (let n = 0; n < Math.round(150 * scale); n++) {
    const u = mk('vampi', null, n, 'member');
    users.push(u);
    byApi.vampi.push(u);
  }
  const partners: Partner[] = [];
  const partnerNames = [
    'pawsome-shop',
    'petco-sync',
    'vetclinic-app',
    'zoo-supply',
    'feedme',
    'aquaworld',
    'birdhouse',
    'petinsure',
    'groomly',
    'kennelhub',
    'catcafe',
    'dogwalkr',
    'petcam',
    'furbnb',
  ];
  for (const name of partnerNames.slice(
    0,
    Math.max(4, Math.round(partnerNames.length * Math.min(1, scale * 1.5))),
  )) {
    const fleet = r.pick(['34.102', '52.14', '20.61', '3.120']);
    partners.push({
      api: 'petstore',
      name,
      key: r.token(40),
      consumerId: r.uuid(),
      credentialId: r.uuid(),
      ips: Array.from({ length: r.int(1, 3) }, () => cloudAddress(r, fleet)),
      tz: r.pick([-8, -5, 0, 1, 2]),
      perHour: r.logNormal(25, 0.8),
      ua: r.pick([
        'python-requests/2.32.3',
        'okhttp/4.12.0',
        'axios/1.7.7',
        'Go-http-client/2.0',
        'Java/21.0.4',
      ]),
      orders: [],
    });
  }
  for (const name of ['northwind', 'contoso', 'fabrikam', 'tailspin', 'adventureworks', 'litware']) {
    const fleet = r.pick(['13.77', '35.190']);
    partners.push({
      api: 'b2b',
      name,
      key: `b2b-${name}`,
      consumerId: r.uuid(),
      credentialId: r.uuid(),
      ips: [cloudAddress(r, fleet), cloudAddress(r, fleet)],
      tz: r.pick([-5, 0, 1]),
      perHour: r.logNormal(6, 0.5),
      ua: r.pick(['Apache-HttpClient/5.3', 'Go-http-client/2.0', 'python-requests/2.32.3']),
      orders: [],
    });
  }
  // Services pushing events into the demo API with API keys, from autoscaled fleets.
  for (const name of [
    'mobile-telemetry',
    'webhooks-relay',
    'crm-sync',
    'erp-connector',
    'iot-gateway',
    'audit-shipper',
  ]) {
    const fleet = r.pick(['34.102', '52.14', '20.61']);
    partners.push({
      api: 'demo',
      name,
      key: `dk_live_${r.token(32)}`,
      consumerId: r.uuid(),
      credentialId: r.uuid(),
      ips: Array.from({ length: r.int(2, 6) }, () => cloudAddress(r, fleet)),
      tz: r.pick([-5, 0, 1]),
      perHour: r.logNormal(60, 0.7),
      ua: r.pick(['Go-http-client/2.0', 'node-fetch/1.0', 'okhttp/4.12.0']),
      orders: [],
    });
  }
  return {
    tenants,
    users,
    byApi,
    partners,
    vehicles,
    posts,
    pets: 5000,
    crapiOrders: crapiOrder,
    books,
  };
}
