using Microsoft.Playwright;
using Pipeline.Functions.Tests.Functions;
using Pipeline.Functions.Tests.Gallery;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using Pipeline.Tests;

namespace Pipeline.Functions.Tests.Dashboard;

/// <summary>The dashboard page in headless Chromium (Debian's, never a downloaded one) over metrics fixtures, served by `--local`.</summary>
public sealed class DashboardPageTests
{
    private const string ChromiumPath = "/usr/bin/chromium";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    private static Task WriteMetricAsync(IBlobStore store, MetricRecord r) =>
        store.PutJsonAsync(BlobLayout.MetricEvaluation(r.Metric, r.Timestamp, r.RunId!), r, cancellationToken: Ct);

    private static async Task SeedAsync(IBlobStore store)
    {
        // FID of two models at three evaluations, PPL of one model at two.
        double[] fidV2 = [18.2, 9.7, 6.1], fidV1 = [25.0, 17.5, 12.3];
        for (int i = 0; i < 3; i++)
        {
            await WriteMetricAsync(store, new MetricRecord { Metric = "fid50k_full", Status = "ok", ModelId = "stylegan2-ffhq-256", Value = fidV2[i], Timestamp = T0.AddDays(i), RunId = Guid.NewGuid().ToString("N")[..12] });
            await WriteMetricAsync(store, new MetricRecord { Metric = "fid50k_full", Status = "ok", ModelId = "stylegan1-celeba-128", Value = fidV1[i], Timestamp = T0.AddDays(i), RunId = Guid.NewGuid().ToString("N")[..12] });
        }
        for (int i = 0; i < 2; i++)
            await WriteMetricAsync(store, new MetricRecord { Metric = "ppl_wend", Status = "ok", ModelId = "stylegan2-ffhq-256", Value = 150 - 20 * i, Timestamp = T0.AddDays(i), RunId = Guid.NewGuid().ToString("N")[..12] });
        // KID of one model at two evaluations (the unbiased estimate can be slightly negative), and a skipped KID of
        // another model (no Inception weights): skipped records carry no value and draw no line.
        double[] kid = [0.0123, -0.0002];
        for (int i = 0; i < 2; i++)
            await WriteMetricAsync(store, new MetricRecord { Metric = "kid50k_full", Status = "ok", ModelId = "stylegan2-ffhq-256", Value = kid[i], Timestamp = T0.AddDays(i), RunId = Guid.NewGuid().ToString("N")[..12] });
        await WriteMetricAsync(store, new MetricRecord { Metric = "kid50k_full", Status = "skipped", Reason = "weights missing: pt_inception-2015-12-05-6726825d.pth", ModelId = "stylegan1-celeba-128", Timestamp = T0, RunId = Guid.NewGuid().ToString("N")[..12] });

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

        // FID: one line per model with three points each; PPL: one line with two.
        var fid = page.Locator("figure[data-metric='fid50k_full'] path.series");
        Assert.Equal(2, await fid.CountAsync());
        var fidSeries = new List<string?>();
        for (int i = 0; i < 2; i++)
        {
            fidSeries.Add(await fid.Nth(i).GetAttributeAsync("data-series"));
            Assert.Equal("3", await fid.Nth(i).GetAttributeAsync("data-points"));
        }
        Assert.Equal(["stylegan1-celeba-128", "stylegan2-ffhq-256"], fidSeries.Order());
        Assert.Equal(6, await page.Locator("figure[data-metric='fid50k_full'] circle.point").CountAsync());
        Assert.Equal("2", await page.Locator("figure[data-metric='ppl_wend'] path.series").GetAttributeAsync("data-points"));
        var kid = page.Locator("figure[data-metric='kid50k_full'] path.series");
        Assert.Equal(1, await kid.CountAsync());
        Assert.Equal(("stylegan2-ffhq-256", "2"), (await kid.GetAttributeAsync("data-series"), await kid.GetAttributeAsync("data-points")));
        var kidTitles = await page.Locator("figure[data-metric='kid50k_full'] circle.point title").AllTextContentsAsync();
        Assert.Contains(kidTitles, t => t.StartsWith("stylegan2-ffhq-256: -0.00020", StringComparison.Ordinal));

        // Jobs by state and latencies.
        Assert.Equal("2", await page.Locator("rect.bar[data-name='succeeded']").GetAttributeAsync("data-value"));
        Assert.Equal("1", await page.Locator("rect.bar[data-name='queued']").GetAttributeAsync("data-value"));
        Assert.Equal("2", await page.Locator("#job-latency path.series").GetAttributeAsync("data-points"));

        // Gallery: StyleGAN v1 and v2 works plus translation results, every thumbnail decoded by the browser.
        var works = page.Locator("figure.work");
        Assert.Equal(6, await works.CountAsync());
        Assert.Equal(2, await page.Locator("figure.work[data-family='StyleGAN v1']").CountAsync());
        Assert.Equal(2, await page.Locator("figure.work[data-family='StyleGAN2']").CountAsync());
        var decoded = await page.EvaluateAsync<bool>("async () => { const imgs = [...document.querySelectorAll('figure.work img')]; await Promise.all(imgs.map(i => i.decode())); return imgs.length === 6 && imgs.every(i => i.naturalWidth > 0); }");
        Assert.True(decoded);

        // For humans: PIPELINE_DASHBOARD_SCREENSHOT=/path/shot.png keeps a picture of what was asserted.
        if (Environment.GetEnvironmentVariable("PIPELINE_DASHBOARD_SCREENSHOT") is { Length: > 0 } shot)
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = shot, FullPage = true });
    }
}
