export { sample, scrape } from '../../tools/metrics-scrape.ts';
