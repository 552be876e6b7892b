/**
 * The product catalog: SKUs, prices and the stock each starts with. Shared read-only data (like a
 * price list), not a service: the order API rejects unknown SKUs with it and the inventory
 * service seeds its stock from it. A few SKUs are scarce so that some orders run out of stock.
 */

/** One product. */
export interface Product {
  readonly sku: string;
  readonly name: string;
  readonly priceCents: number;
  /** Units in stock when a data directory is first used. */
  readonly initialStock: number;
  /** Scarce products sell out during the default load. */
  readonly scarce: boolean;
}

/** Every product the shop sells. */
export const CATALOG: readonly Product[] = [
  { sku: 'KB-01', name: 'Mechanical keyboard', priceCents: 8900, initialStock: 5000, scarce: false },
  { sku: 'MS-02', name: 'Wireless mouse', priceCents: 2900, initialStock: 5000, scarce: false },
  { sku: 'HD-03', name: 'Noise-cancelling headphones', priceCents: 19900, initialStock: 5000, scarce: false },
  { sku: 'CB-04', name: 'USB-C cable', priceCents: 990, initialStock: 10000, scarce: false },
  { sku: 'MN-05', name: '27" monitor', priceCents: 32900, initialStock: 3000, scarce: false },
  { sku: 'LP-06', name: 'Laptop stand', priceCents: 4500, initialStock: 4000, scarce: false },
  { sku: 'WC-07', name: '4K webcam', priceCents: 12900, initialStock: 3000, scarce: false },
  { sku: 'GP-08', name: 'Limited-edition gamepad', priceCents: 6900, initialStock: 25, scarce: true },
  { sku: 'VR-09', name: 'VR headset (launch batch)', priceCents: 49900, initialStock: 15, scarce: true },
  { sku: 'SG-10', name: 'Signed artbook', priceCents: 5900, initialStock: 10, scarce: true },
];

const BY_SKU = new Map(CATALOG.map((product) => [product.sku, product]));

/** The product with `sku`, or undefined for an unknown SKU. */
export function findProduct(sku: string): Product | undefined {
  return BY_SKU.get(sku);
}
