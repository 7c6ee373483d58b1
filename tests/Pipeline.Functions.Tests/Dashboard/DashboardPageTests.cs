using Microsoft.Playwright;
using Pipeline.Functions.Tests.Functions;
using Pipeline.Functions.Tests.Gallery;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using Pipeline.Tests;
using Pipeline.Metrics;

namespace Pipeline.Functions.Tests.Dashboard;

/// <summary>The dashboard page in headless Chromium (Debian's, never a downloaded one) over metrics fixtures, served by `--local`.</summary>
public sealed class DashboardPageTests
{
    private const string ChromiumPath = "/usr/bin/chromium";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    private static Task WriteMetricAsync(IBlobStore store, MetricRecord r) =>
        store.PutJsonAsync(BlobLayout.MetricEvaluation(r.Metric, r.Timestamp, r.RunId!), r, cancellationToken: Ct);

    private static string NewRunId() => Guid.NewGuid().ToString("N")[..12];

    private static async Task SeedAsync(IBlobStore store)
    {
        // FID of two models at three evaluations, PPL of one model at two.
        double[] fidV2 = [18.2, 9.7, 6.1], fidV1 = [25.0, 17.5, 12.3];
        for (int i = 0; i < 3; i++)
        {
            await WriteMetricAsync(store, new MetricRecord { Metric = "fid50k_full", Status = "ok", ModelId = "stylegan2-ffhq-256", Value = fidV2[i], Timestamp = T0.AddDays(i), RunId = NewRunId() });
            await WriteMetricAsync(store, new MetricRecord { Metric = "fid50k_full", Status = "ok", ModelId = "stylegan1-celeba-128", Value = fidV1[i], Timestamp = T0.AddDays(i), RunId = NewRunId() });
        }
        for (int i = 0; i < 2; i++)
            await WriteMetricAsync(store, new MetricRecord { Metric = "ppl_wend", Status = "ok", ModelId = "stylegan2-ffhq-256", Value = 150 - 20 * i, Timestamp = T0.AddDays(i), RunId = NewRunId() });
        // KID of one model at two evaluations (the unbiased estimate can be slightly negative), and a skipped KID of
        // another model (no Inception weights): skipped records carry no value and draw no line.
        double[] kid = [0.0123, -0.0002];
        for (int i = 0; i < 2; i++)
            await WriteMetricAsync(store, new MetricRecord { Metric = "kid50k_full", Status = "ok", ModelId = "stylegan2-ffhq-256", Value = kid[i], Timestamp = T0.AddDays(i), RunId = NewRunId() });
        await WriteMetricAsync(store, new MetricRecord { Metric = "kid50k_full", Status = "skipped", Reason = "weights missing: pt_inception-2015-12-05-6726825d.pth", ModelId = "stylegan1-celeba-128", Timestamp = T0, RunId = NewRunId() });
        // A rerun of an FID evaluation at the same instant as another: a second dot, not a vertical stroke.
        await WriteMetricAsync(store, new MetricRecord { Metric = "fid50k_full", Status = "ok", ModelId = "stylegan2-ffhq-256", Value = 6.9, Timestamp = T0.AddDays(2), RunId = NewRunId() });
        // A metric whose every evaluation gave no value: its chart says so and lists why, per model.
        for (int i = 0; i < 2; i++)
            await WriteMetricAsync(store, new MetricRecord { Metric = "fid10k", Status = "skipped", Reason = "weights missing: pt_inception-2015-12-05-6726825d.pth", ModelId = "stylegan2-ffhq-256", Timestamp = T0.AddHours(i), RunId = NewRunId() });
        await WriteMetricAsync(store, new MetricRecord { Metric = "fid10k", Status = "failed", Reason = "reference statistics made with another feature network", ModelId = "stylegan1-celeba-128", Timestamp = T0, RunId = NewRunId() });
        // Not a quality metric: LPIPS of one projection stays off the quality charts.
        await WriteMetricAsync(store, new MetricRecord { Metric = "lpips_projection", Status = "ok", ModelId = "stylegan2-ffhq-256", Value = 0.31, Timestamp = T0, RunId = NewRunId() });

        // The worker's per-job records (job_<kind>, value = seconds): durations, plotted apart from quality. Two
        // augmentation batches finish in the same second.
        foreach (var (kind, minutes, seconds, wait) in new[] { ("translation", 1, 40.0, 2.5), ("translation", 11, 60.0, 0.5), ("projection", 6, 300.0, 12.0), ("augmentation", 8, 90.0, 1.0), ("augmentation", 8, 110.0, 1.0) })
        {
            var settings = new Dictionary<string, object?> { ["job_id"] = "trn-x", ["queue_wait_s"] = wait };
            await WriteMetricAsync(store, new MetricRecord { Metric = "job_" + kind, Status = "ok", ModelId = "models/m.pt", Value = seconds, DurationSeconds = seconds, Settings = settings, Timestamp = T0.AddMinutes(minutes), RunId = NewRunId() });
        }

        // Two finished translation jobs with one image each, one queued projection.
        for (int i = 0; i < 2; i++)
        {
            var spec = new TranslationJob { Model = new BlobRef("models/councilgan.pt"), Variant = TranslationVariant.CouncilSelfieToAnime, Input = new BlobRef($"uploads/selfies/{i}.jpg", "0x1") };
            var id = JobIds.For(spec);
            var output = BlobLayout.Result(id, "output-0.png");
            await store.PutBytesAsync(output, TestImages.Png(96, 96), cancellationToken: Ct);
            await store.PutJsonAsync(BlobLayout.ResultDocument(id), new JobResult
            { JobId = id, Kind = JobKind.Translation, Job = spec, Outputs = [new OutputBlob(output, "image/png", 1)], StartedAt = T0.AddMinutes(10 * i), FinishedAt = T0.AddMinutes(10 * i).AddSeconds(40 + 20 * i) }, cancellationToken: Ct);
            await store.PutJsonAsync(BlobLayout.StatusDocument(id), new JobStatus { JobId = id, Kind = JobKind.Translation, State = JobState.Succeeded, UpdatedAt = T0 }, cancellationToken: Ct);
        }
        var queued = new ProjectionJob { Model = new BlobRef("models/stylegan2.pt"), Input = new BlobRef("uploads/project/x.jpg", "0x2") };
        await store.PutJsonAsync(BlobLayout.StatusDocument(JobIds.For(queued)), new JobStatus { JobId = JobIds.For(queued), Kind = JobKind.Projection, State = JobState.Queued, UpdatedAt = T0 }, cancellationToken: Ct);

        // Augmentation batches from a StyleGAN v1 and a StyleGAN2 model.
        foreach (var (family, batch) in new[] { (StyleGanFamily.StyleGan1, "celeba-v1-20261101-0300"), (StyleGanFamily.StyleGan2, "ffhq-v2-20261101-0300") })
        {
            var items = new List<DatasetItem>();
            for (int i = 0; i < 2; i++)
            {
                var path = BlobLayout.DatasetItem(batch, $"{i:D4}.png");
                await store.PutBytesAsync(path, TestImages.Png(64, 64), cancellationToken: Ct);
                items.Add(new DatasetItem(path, i));
            }
            var job = new AugmentationBatchJob { Model = new BlobRef("models/m.pt"), BatchId = batch, Family = family, Operation = AugmentationOp.Truncation };
            await store.PutJsonAsync(BlobLayout.DatasetManifest(batch), new DatasetManifest { BatchId = batch, JobId = JobIds.For(job), Job = job, Items = items, CreatedAt = T0 }, cancellationToken: Ct);
        }
    }

    [Fact]
    public async Task ThePageLoadsAndPlotsTheMetricSeriesJobsAndGallery()
    {
        Requirement.SkipUnless(File.Exists(ChromiumPath), $"Chromium missing at {ChromiumPath}: build/prereqs.d/30-chromium.sh installs Debian's chromium.");
        await using var emulator = await LocalSite.StartAsync(SeedAsync);

        using var http = new HttpClient();
        using (var denied = await http.GetAsync(emulator.BaseUrl + "/api/dashboard", Ct))
            Assert.Equal(401, (int)denied.StatusCode); // the page sits behind authentication

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        });
        var page = await browser.NewPageAsync();
        var errors = new List<string>();
        page.PageError += (_, e) => errors.Add(e);
        page.Console += (_, m) => { if (m.Type == "error") errors.Add(m.Text); };
        var response = await page.GotoAsync($"{emulator.BaseUrl}/api/dashboard?code={LocalSite.Key}");
        Assert.Equal(200, response!.Status);
        await page.WaitForSelectorAsync("body[data-loaded]", new PageWaitForSelectorOptions { Timeout = 30_000 });
        Assert.Equal("true", await page.GetAttributeAsync("body", "data-loaded"));
        Assert.Empty(errors);
        // For humans: PIPELINE_DASHBOARD_SCREENSHOT=/path/shot.png keeps a picture of what is asserted below (taken
        // first, so a failing assertion still leaves the picture to look at).
        if (Environment.GetEnvironmentVariable("PIPELINE_DASHBOARD_SCREENSHOT") is { Length: > 0 } shot)
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = shot, FullPage = true });

        // Quality: FID, KID and PPL only, titled with what they measure; never the worker's job durations, never LPIPS.
        Assert.Equal("Model quality over time: FID, KID and PPL (lower is better)", await page.Locator("#quality-h").TextContentAsync());
        var metrics = await page.Locator("#metric-charts figure").EvaluateAllAsync<string[]>("fs => fs.map(f => f.dataset.metric)");
        Assert.Equal(["fid10k", "fid50k_full", "kid50k_full", "ppl_wend"], metrics);
        Assert.Equal("FID · fid50k_full (lower is better)", await page.Locator("figure[data-metric='fid50k_full'] figcaption").TextContentAsync());
        Assert.Equal("KID · kid50k_full (lower is better)", await page.Locator("figure[data-metric='kid50k_full'] figcaption").TextContentAsync());
        Assert.Equal("PPL · ppl_wend (lower is better)", await page.Locator("figure[data-metric='ppl_wend'] figcaption").TextContentAsync());
        Assert.Equal("FID", await page.Locator("figure[data-metric='fid50k_full'] text.ylabel").TextContentAsync());

        // FID: one line per model; the StyleGAN2 model has four evaluations, two at the same instant (one vertex).
        var fid = page.Locator("figure[data-metric='fid50k_full'] path.series");
        Assert.Equal(2, await fid.CountAsync());
        var fidSeries = new Dictionary<string, (string? Points, string? Vertices)>();
        for (int i = 0; i < 2; i++)
            fidSeries[(await fid.Nth(i).GetAttributeAsync("data-series"))!] = (await fid.Nth(i).GetAttributeAsync("data-points"), await fid.Nth(i).GetAttributeAsync("data-vertices"));
        Assert.Equal(("3", "3"), fidSeries["stylegan1-celeba-128"]);
        Assert.Equal(("4", "3"), fidSeries["stylegan2-ffhq-256"]);
        Assert.Equal(7, await page.Locator("figure[data-metric='fid50k_full'] circle.point").CountAsync());
        var legend = await page.Locator("figure[data-metric='fid50k_full'] .legend span").AllTextContentsAsync();
        Assert.Equal(["stylegan1-celeba-128", "stylegan2-ffhq-256"], legend.Select(l => l.Trim()));
        Assert.Equal("2", await page.Locator("figure[data-metric='ppl_wend'] path.series").GetAttributeAsync("data-points"));
        var kid = page.Locator("figure[data-metric='kid50k_full'] path.series");
        Assert.Equal(1, await kid.CountAsync());
        Assert.Equal(("stylegan2-ffhq-256", "2"), (await kid.GetAttributeAsync("data-series"), await kid.GetAttributeAsync("data-points")));
        var kidTitles = await page.Locator("figure[data-metric='kid50k_full'] circle.point title").AllTextContentsAsync();
        Assert.Contains(kidTitles, t => t.StartsWith("stylegan2-ffhq-256: -0.00020", StringComparison.Ordinal));

        // Skipped and failed evaluations are shown with their reason, never dropped.
        var kidSkipped = page.Locator("figure[data-metric='kid50k_full'] .not-evaluated li[data-status='skipped'][data-model='stylegan1-celeba-128']");
        Assert.Contains("weights missing: pt_inception-2015-12-05-6726825d.pth", await kidSkipped.TextContentAsync(), StringComparison.Ordinal);
        var fid10k = page.Locator("figure[data-metric='fid10k']");
        Assert.Equal(0, await fid10k.Locator("svg").CountAsync());
        Assert.Contains("every evaluation of this metric was skipped or failed", await fid10k.Locator("p.no-values").TextContentAsync(), StringComparison.Ordinal);
        var skipped2 = await fid10k.Locator("li[data-status='skipped'][data-model='stylegan2-ffhq-256']").TextContentAsync();
        Assert.Contains("skipped 2× (latest 2026-11-01 01:00 UTC): weights missing", skipped2, StringComparison.Ordinal);
        Assert.Contains("reference statistics made with another feature network", await fid10k.Locator("li[data-status='failed'][data-model='stylegan1-celeba-128']").TextContentAsync(), StringComparison.Ordinal);

        // Job durations: their own section, in seconds, one line per kind; the two augmentation jobs that finished in
        // the same second share one vertex.
        Assert.Equal("Job durations", await page.Locator("#durations-h").TextContentAsync());
        Assert.Equal("Processing time per job (seconds)", await page.Locator("figure[data-chart-id='job-durations'] figcaption").TextContentAsync());
        Assert.Equal("seconds", await page.Locator("#job-durations text.ylabel").TextContentAsync());
        Assert.Equal("seconds", await page.Locator("#job-durations svg[data-chart]").GetAttributeAsync("data-unit"));
        var durations = page.Locator("#job-durations path.series");
        Assert.Equal(["augmentation", "projection", "translation"], await durations.EvaluateAllAsync<string[]>("ps => ps.map(p => p.dataset.series)"));
        Assert.Equal(("2", "1"), (await durations.Nth(0).GetAttributeAsync("data-points"), await durations.Nth(0).GetAttributeAsync("data-vertices")));
        Assert.Equal("2", await durations.Nth(2).GetAttributeAsync("data-points"));
        Assert.Contains(await page.Locator("#job-durations circle.point title").AllTextContentsAsync(), t => t == "projection: 300 s (2026-11-01 00:06 UTC)");
        Assert.Equal(3, await page.Locator("#job-waits path.series").CountAsync());

        // Time axes: dates for a span of days, times of one day (the day in the axis title); never one label twice.
        Assert.Equal(["2026-11-01", "2026-11-02", "2026-11-03"], await page.Locator("figure[data-metric='fid50k_full'] text.xtick").AllTextContentsAsync());
        Assert.Equal("date (UTC)", await page.Locator("figure[data-metric='fid50k_full'] text.xlabel").TextContentAsync());
        Assert.Equal(["00:05", "00:10"], await page.Locator("#job-durations text.xtick").AllTextContentsAsync());
        Assert.Equal("time (UTC, 2026-11-01)", await page.Locator("#job-durations text.xlabel").TextContentAsync());
        foreach (var svg in await page.Locator("svg[data-chart]").AllAsync())
        {
            var labels = await svg.Locator("text.xtick").AllTextContentsAsync();
            Assert.Equal(labels.Count, labels.Distinct().Count());
        }

        // Value axes: evenly spaced round numbers (1, 2 or 5 times a power of ten).
        var yAxes = 0;
        foreach (var svg in await page.Locator("svg[data-chart]").AllAsync())
        {
            var values = (await svg.Locator("text.ytick").EvaluateAllAsync<double[]>("ts => ts.map(t => Number(t.dataset.value))"));
            if (values.Length == 0) continue;
            yAxes++;
            Assert.InRange(values.Length, 3, 6);
            var step = values[1] - values[0];
            var mantissa = step / Math.Pow(10, Math.Floor(Math.Log10(step)));
            Assert.Contains(Math.Round(mantissa, 6), new[] { 1.0, 2.0, 5.0 });
            for (int i = 0; i < values.Length; i++)
                Assert.Equal(values[0] + i * step, values[i], 9);
            Assert.Equal(Math.Round(values[0] / step), values[0] / step, 6);
        }
        Assert.Equal(5, yAxes); // FID, KID, PPL, job durations, queue waits

        // No vertical strokes: every series path moves strictly to the right.
        foreach (var d in await page.Locator("path.series").EvaluateAllAsync<string[]>("ps => ps.map(p => p.getAttribute('d'))"))
        {
            var xs = System.Text.RegularExpressions.Regex.Matches(d, @"[ML](-?[\d.]+),").Select(m => double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
            for (int i = 1; i < xs.Count; i++) Assert.True(xs[i] > xs[i - 1], $"vertical or backward segment in {d}");
        }

        // Jobs by state.
        Assert.Equal("2", await page.Locator("rect.bar[data-name='succeeded']").GetAttributeAsync("data-value"));
        Assert.Equal("1", await page.Locator("rect.bar[data-name='queued']").GetAttributeAsync("data-value"));

        // Gallery: StyleGAN v1 and v2 works plus translation results, every thumbnail decoded by the browser.
        var works = page.Locator("figure.work");
        Assert.Equal(6, await works.CountAsync());
        Assert.Equal(2, await page.Locator("figure.work[data-family='StyleGAN v1']").CountAsync());
        Assert.Equal(2, await page.Locator("figure.work[data-family='StyleGAN2']").CountAsync());
        // The works sit below the charts and load lazily: bring them into view, and bound the wait (decode() of an image
        // that never loads would never settle).
        await page.Locator("#gallery").ScrollIntoViewIfNeededAsync();
        var decoded = await page.EvaluateAsync<bool>("async () => { const imgs = [...document.querySelectorAll('figure.work img')]; const all = Promise.all(imgs.map(i => i.decode())).then(() => true, () => false); const ok = await Promise.race([all, new Promise(r => setTimeout(() => r(false), 20000))]); return ok && imgs.length === 6 && imgs.every(i => i.naturalWidth > 0); }");
        Assert.True(decoded);
    }
}
