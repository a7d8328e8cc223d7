/** The seed's three request examples, shown in the OpenAPI document. */
export const updateS3ConfigExamples = [
  {
    enabled: true,
    region: 'us-east-1',
    bucket: 'ryzeapi-media',
    accessKey: 'AKIA...',
    secretKey: 'secret-redacted',
    endpoint: '',
    pathPrefix: 'media/myinstance/',
  },
  {
    enabled: true,
    region: 'us-east-1',
    bucket: 'whatsapp',
    endpoint: 'https://minio.internal.company.com',
    accessKey: 'minioadmin',
    secretKey: 'minioadmin',
    pathPrefix: 'ryzeapi/',
  },
  { enabled: false },
];
