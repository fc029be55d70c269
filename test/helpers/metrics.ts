export { sample, scrape, type Scrape } from '../../tools/metrics-scrape.ts';
