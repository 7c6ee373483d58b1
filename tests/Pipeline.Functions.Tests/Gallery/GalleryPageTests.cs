using Microsoft.Playwright;
using Pipeline.Infra.Contracts;
using Pipeline.Tests;

namespace Pipeline.Functions.Tests.Gallery;

/// <summary>The gallery page in headless Chromium (Debian's) over what a worker wrote, served by `--local` (the same
/// function classes as the worker, images through the local signed links), recording which images the browser fetched.</summary>
public sealed class GalleryPageTests
{
    private const string ChromiumPath = "/usr/bin/chromium";
    private const int Images = 300;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task CollectionsGridsPanoramasViewerAndMoreLikeThisWorkWithHundredsOfImages()
    {
        Requirement.SkipUnless(File.Exists(ChromiumPath), $"Chromium missing at {ChromiumPath}: build/prereqs.d/30-chromium.sh installs Debian's chromium.");
        await using var emulator = await LocalSite.StartAsync(store => GallerySeed.SeedAsync(store, Images, Ct));

        using var http = new HttpClient();
        using (var denied = await http.GetAsync(emulator.BaseUrl + "/api/dashboard/gallery.html", Ct))
            Assert.Equal(401, (int)denied.StatusCode);
        using (var deniedApi = await http.GetAsync(emulator.BaseUrl + "/api/gallery", Ct))
            Assert.Equal(401, (int)deniedApi.StatusCode);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 800 } });
        var errors = new List<string>();
        page.PageError += (_, e) => errors.Add(e);
        page.Console += (_, m) => { if (m.Type == "error") errors.Add(m.Text); };

        var response = await page.GotoAsync($"{emulator.BaseUrl}/api/dashboard/gallery.html?code={LocalSite.Key}");
        Assert.Equal(200, response!.Status);
        await page.WaitForSelectorAsync("body[data-loaded]", new PageWaitForSelectorOptions { Timeout = 30_000 });
        Assert.Equal("true", await page.GetAttributeAsync("body", "data-loaded"));

        // Collections: one card per batch, grouped per model.
        Assert.Equal(4, await page.Locator("#collections .card").CountAsync());
        Assert.Equal(3, await page.Locator($".model-group[data-model='{GallerySeed.V2Model}'] .card").CountAsync());
        Assert.Equal(1, await page.Locator($".model-group[data-model='{GallerySeed.V1Model}'] .card").CountAsync());
        // The index fetched covers only, never a batch's images.
        Assert.DoesNotContain(emulator.FetchedBlobs, p => p.StartsWith($"datasets/{GallerySeed.V2Batch}/", StringComparison.Ordinal) && p != $"datasets/{GallerySeed.V2Batch}/thumbs/00000.png");

        // Panorama strip and the style-mixing grid (2 row sources x 3 column sources).
        Assert.Equal(2, await page.Locator("#panoramas figure img").CountAsync());
        var grid = page.Locator($"figure.mixgrid[data-batch='{GallerySeed.GridBatch}'][data-range='coarse']");
        Assert.Equal(3, await grid.Locator("thead img").CountAsync());
        Assert.Equal(2, await grid.Locator("tbody tr").CountAsync());
        Assert.Equal(6, await grid.Locator("td.cell img").CountAsync());
        Assert.StartsWith($"/api/_blobs/datasets/{GallerySeed.GridBatch}/mix-coarse/r1_c2.png?exp=",
            await grid.Locator("tbody tr[data-row='1'] td.cell[data-column='2'] img").GetAttributeAsync("src"), StringComparison.Ordinal);

        // Open the 300-image batch: one page of items, thumbnails only, fetched lazily.
        await page.Locator($".card[data-batch='{GallerySeed.V2Batch}']").ClickAsync();
        await page.WaitForSelectorAsync("body[data-items='60']");
        Assert.Equal(60, await page.Locator("#items figure.work").CountAsync());
        await page.WaitForTimeoutAsync(300);
        var fetched = emulator.FetchedBlobs.Where(p => p.StartsWith($"datasets/{GallerySeed.V2Batch}/", StringComparison.Ordinal)).ToList();
        Assert.All(fetched, p => Assert.Contains("/thumbs/", p, StringComparison.Ordinal));
        // Only the first page exists in the document; the browser may fetch all of it or fewer (loading=lazy).
        Assert.InRange(fetched.Distinct().Count(), 1, 60);

        // Scrolling pages in the rest.
        for (int i = 0; i < 40 && await page.GetAttributeAsync("body", "data-items") != Images.ToString(System.Globalization.CultureInfo.InvariantCulture); i++)
        {
            await page.Locator("#sentinel").ScrollIntoViewIfNeededAsync();
            await page.WaitForTimeoutAsync(150);
        }
        Assert.Equal(Images, await page.Locator("#items figure.work").CountAsync());
        Assert.Equal("all 300 shown", await page.Locator("#sentinel").TextContentAsync());
        Assert.DoesNotContain(emulator.FetchedBlobs, p => p == $"datasets/{GallerySeed.V2Batch}/00123.png");
        Assert.All(emulator.FetchedBlobs.Where(p => p.StartsWith($"datasets/{GallerySeed.V2Batch}/", StringComparison.Ordinal)), p => Assert.Contains("/thumbs/", p, StringComparison.Ordinal));

        // Full-size view with the image's settings, then "more like this".
        await page.Locator("#items figure.work[data-index='123'] button.open").ClickAsync();
        await page.WaitForSelectorAsync("dialog#viewer[open]");
        Assert.StartsWith($"/api/_blobs/datasets/{GallerySeed.V2Batch}/00123.png?exp=", await page.Locator("#viewer-img").GetAttributeAsync("src"), StringComparison.Ordinal);
        Assert.Equal((GallerySeed.V2FirstSeed + 123).ToString(System.Globalization.CultureInfo.InvariantCulture), await page.Locator("#viewer-settings dd[data-key='seed']").TextContentAsync());
        Assert.Equal("0.7", await page.Locator("#viewer-settings dd[data-key='truncation']").TextContentAsync());
        Assert.Equal(GallerySeed.V2Model, await page.Locator("#viewer-settings dd[data-key='model']").TextContentAsync());
        Assert.Equal(2, await page.Locator("#viewer-actions button").CountAsync());
        await page.Locator("#viewer-actions button[data-mode='coarse']").ClickAsync();
        await page.WaitForSelectorAsync("#viewer-message[data-job-id]");
        var jobId = await page.GetAttributeAsync("#viewer-message", "data-job-id");
        var message = Assert.Single(await emulator.PeekAllAsync("jobs-augment"));
        Assert.Equal(jobId, message.MessageId);
        var job = Assert.IsType<AugmentationBatchJob>(JobEnvelope.Parse(message.Body.Span).Job);
        Assert.Equal(AugmentationOp.StyleMixing, job.Operation);
        Assert.Equal(GallerySeed.V2FirstSeed + 123, job.BaseSeed);
        await page.Keyboard.PressAsync("Escape");

        // A grid cell opens with its seeds and range; the model filter hides other models.
        await grid.Locator("tbody tr[data-row='0'] td.cell[data-column='1'] img").ClickAsync();
        await page.WaitForSelectorAsync("dialog#viewer[open]");
        Assert.Equal("0", await page.Locator("#viewer-settings dd[data-key='rowSeed']").TextContentAsync());
        Assert.Equal("3", await page.Locator("#viewer-settings dd[data-key='columnSeed']").TextContentAsync());
        await page.Keyboard.PressAsync("Escape");
        await page.SelectOptionAsync("#model-filter", GallerySeed.V1Model);
        Assert.False(await page.Locator($".model-group[data-model='{GallerySeed.V2Model}']").IsVisibleAsync());
        Assert.True(await page.Locator($".model-group[data-model='{GallerySeed.V1Model}']").IsVisibleAsync());

        await page.SelectOptionAsync("#model-filter", "");

        // Translation and projection results: collections of their own, one card per job, grouped by kind.
        Assert.Equal("Translations and projections", await page.Locator("#results-h").TextContentAsync());
        Assert.Equal("Translations (3)", await page.Locator("#results .result-group[data-kind='translation'] h3").TextContentAsync());
        Assert.Equal("Projections (1)", await page.Locator("#results .result-group[data-kind='projection'] h3").TextContentAsync());
        var councilId = JobIds.For(GallerySeed.Council);
        var council = page.Locator($"#results .card[data-job='{councilId}']");
        Assert.Equal("Council GAN: selfie to anime", await council.Locator(".name").TextContentAsync());
        Assert.Equal(GallerySeed.CouncilModel, await council.GetAttributeAsync("data-model"));
        await council.ClickAsync();
        await page.WaitForSelectorAsync("body[data-items='4']");
        Assert.Equal($"Council GAN: selfie to anime · {councilId}", await page.Locator("#collection-h").TextContentAsync());
        Assert.Equal(["output", "output", "contact-sheet", "model-input"], await page.Locator("#items figure.work").EvaluateAllAsync<string[]>("fs => fs.map(f => f.dataset.role)"));
        // Lazy images load once in view; the wait is bounded (decode() of an image that never loads never settles).
        await page.Locator("#items").ScrollIntoViewIfNeededAsync();
        var outputsDecoded = await page.EvaluateAsync<bool>("async () => { const imgs = [...document.querySelectorAll('#items figure.work img')]; const all = Promise.all(imgs.map(i => i.decode())).then(() => true, () => false); const ok = await Promise.race([all, new Promise(r => setTimeout(() => r(false), 20000))]); return ok && imgs.length === 4 && imgs.every(i => i.naturalWidth > 0); }");
        Assert.True(outputsDecoded);
        await page.Locator("#items figure.work[data-index='0'] button.open").ClickAsync();
        await page.WaitForSelectorAsync("dialog#viewer[open]");
        Assert.Equal(councilId, await page.Locator("#viewer-settings dd[data-key='job']").TextContentAsync());
        Assert.Equal("uploads/selfies/me.jpg", await page.Locator("#viewer-settings dd[data-key='input']").TextContentAsync());
        Assert.Equal(0, await page.Locator("#viewer-actions button").CountAsync()); // no "more like this" for a job result
        await page.Keyboard.PressAsync("Escape");
        var projectionId = JobIds.For(GallerySeed.Projection);
        await page.Locator($"#results .card[data-job='{projectionId}']").ClickAsync();
        await page.WaitForSelectorAsync("body[data-items='2']");
        Assert.Equal(["reconstruction", "model-input"], await page.Locator("#items figure.work").EvaluateAllAsync<string[]>("fs => fs.map(f => f.dataset.role)"));
        Assert.Contains("3 translations · 1 projection", await page.Locator("#status").TextContentAsync(), StringComparison.Ordinal);
        await page.SelectOptionAsync("#model-filter", GallerySeed.CouncilModel);
        Assert.False(await page.Locator($"#results .card[data-job='{projectionId}']").IsVisibleAsync());
        Assert.True(await council.IsVisibleAsync());

        Assert.Empty(errors);
        Assert.DoesNotContain(emulator.Logs.Lines, l => l.Contains(LocalSite.Key, StringComparison.Ordinal));
        if (Environment.GetEnvironmentVariable("PIPELINE_GALLERY_SCREENSHOT") is { Length: > 0 } shot)
        {
            await page.SelectOptionAsync("#model-filter", "");
            await page.EvaluateAsync("() => window.scrollTo(0, 0)");
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = shot });
            // The whole page too: the result collections and the opened job sit below the first screen.
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.ChangeExtension(shot, null) + "-full.png", FullPage = true });
        }
    }
}
