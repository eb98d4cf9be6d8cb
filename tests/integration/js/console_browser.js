// Drives the web console in headless Chromium (Debian's) with puppeteer-core:
// create a topic, produce through the console's form (REST), browse the
// message, see a group's lag, reset its offsets with a preview.
// Usage: node js/console_browser.js <console url> <topic> <group> <screenshot dir>
'use strict';
const puppeteer = require('puppeteer-core');
const path = require('path');

const [url, topic, group, shots] = process.argv.slice(2);

async function waitText(page, selector, predicate, what) {
  const deadline = Date.now() + 15000;
  let last = '';
  while (Date.now() < deadline) {
    last = await page.$eval(selector, el => el.textContent).catch(() => '');
    if (predicate(last)) return last;
    await new Promise(r => setTimeout(r, 100));
  }
  throw new Error(`${what}: ${selector} still reads ${JSON.stringify(last)}`);
}

(async () => {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  try {
    const page = await browser.newPage();
    page.on('dialog', d => d.accept());
    const errors = [];
    page.on('pageerror', e => errors.push(String(e)));
    await page.goto(url, {waitUntil: 'networkidle0'});
    // The brokers' table (a card once took its id and its rows), the cards.
    await waitText(page, 'table#ov-brokers', t => t.includes('127.0.0.1'), 'overview lists the broker');
    await waitText(page, '#card-brokers', t => t === '1', 'overview counts the brokers');
    await waitText(page, '#card-quorum', t => /^leader \d+, epoch \d+$/.test(t), 'overview shows the quorum');
    await waitText(page, '#card-metadata', t => /^offset \d+, lag \d+$/.test(t), 'overview shows the metadata log');
    await page.screenshot({path: path.join(shots, 'console-overview.png')});

    // Topics: create one, see it listed, open it.
    await page.click('button[data-tab="topics"]');
    await page.type('#t-name', topic);
    await page.$eval('#t-parts', el => { el.value = '2'; });
    await page.click('#t-create');
    await waitText(page, '#t-msg', t => t.includes('created'), 'topic created');
    await waitText(page, '#t-list', t => t.includes(topic), 'topic listed');
    await page.click(`a[data-topic="${topic}"]`);
    await waitText(page, '#t-parts', t => t.includes('latest'), 'partitions shown');
    await page.screenshot({path: path.join(shots, 'console-topic.png')});

    // Produce through the form, then browse the message with its header.
    await page.click('button[data-tab="messages"]');
    await page.type('#p-topic', topic);
    await page.type('#p-key', 'console-key');
    await page.type('#p-value', '{"hello":"browser"}');
    await page.type('#p-hname', 'origin');
    await page.type('#p-hvalue', 'puppeteer');
    await page.click('#p-send');
    const produced = await waitText(page, '#p-msg', t => t.includes('offset'), 'produced');
    const partition = /partition (\d+)/.exec(produced)[1];
    await page.type('#m-topic', topic);
    await page.$eval('#m-part', (el, p) => { el.value = p; }, partition);
    await page.select('#m-fmt', 'json');
    await page.click('#m-load');
    await waitText(page, '#m-list', t => t.includes('console-key') && t.includes('"hello": "browser"') && t.includes('origin: puppeteer'),
                   'message browsed');
    await page.screenshot({path: path.join(shots, 'console-messages.png')});
    // The topic list's throughput columns, from /metrics samples: a rate once
    // the topic has bytes in (the produce above) and two samples have passed.
    const deadline = Date.now() + 15000;
    let row = [];
    while (Date.now() < deadline) {
      await page.click('button[data-tab="topics"]');
      await new Promise(r => setTimeout(r, 500));
      row = await page.$$eval('#t-list tr', (rows, name) => {
        const r = rows.find(x => x.cells[0] && x.cells[0].textContent === name);
        return r ? [...r.cells].map(c => c.textContent) : [];
      }, topic);
      if (row.length > 5 && /^\d+\.\d$/.test(row[4]) && /^\d+\.\d$/.test(row[5])) break;
    }
    if (!(row.length > 5 && /^\d+\.\d$/.test(row[4]))) throw new Error('no throughput for the topic: ' + JSON.stringify(row));
    await page.click('button[data-tab="messages"]');
    // From a time: one after the message finds nothing, one before finds it.
    await page.type('#m-time', new Date(Date.now() + 3600000).toISOString());
    await page.click('#m-load');
    await waitText(page, '#m-msg', t => t.startsWith('0 records'), 'nothing after a later time');
    await page.$eval('#m-time', el => { el.value = ''; });
    await page.type('#m-time', new Date(Date.now() - 3600000).toISOString());
    await page.click('#m-load');
    await waitText(page, '#m-list', t => t.includes('console-key'), 'message browsed from an earlier time');

    // The group (set up by the Python side: committed at 0, log end 3 on partition 0).
    await page.click('button[data-tab="groups"]');
    await waitText(page, '#g-list', t => t.includes(group), 'group listed');
    await page.click(`a[data-group="${group}"]`);
    await waitText(page, '#g-total', t => t === '3', 'group lag');
    await page.screenshot({path: path.join(shots, 'console-group.png')});
    await page.select('#r-to', 'latest');
    await page.click('#r-preview');
    await waitText(page, '#r-table', t => t.includes('new lag'), 'reset preview');
    await page.click('#r-apply');
    await waitText(page, '#r-msg', t => t.includes('offsets reset'), 'offsets reset');
    await waitText(page, '#g-total', t => t === '0', 'lag after the reset');
    await page.screenshot({path: path.join(shots, 'console-group-reset.png')});
    if (errors.length) throw new Error('page errors: ' + errors.join('; '));
    console.log('console OK');
  } finally {
    await browser.close();
  }
})().catch(e => { console.error(e); process.exit(1); });
