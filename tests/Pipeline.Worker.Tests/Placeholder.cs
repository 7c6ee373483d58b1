namespace Pipeline.Worker.Tests;
