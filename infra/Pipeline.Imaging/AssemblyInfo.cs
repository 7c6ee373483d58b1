namespace Pipeline.Imaging;
