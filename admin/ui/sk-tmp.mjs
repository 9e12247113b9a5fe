import * as echarts from 'echarts';
const names = new Map([['from:prospect','Prospect'],['from:','(new record)'],['from:customer','Customer'],['to:customer','Customer'],['to:prospect','Prospect'],['to:client','Client']]);
const nodes=[{name:'from:prospect',depth:0},{name:'to:customer',depth:1},{name:'from:',depth:0},{name:'to:prospect',depth:1},{name:'from:customer',depth:0},{name:'to:client',depth:1}];
const links=[{source:'from:prospect',target:'to:customer',value:1},{source:'from:',target:'to:prospect',value:1},{source:'from:',target:'to:customer',value:1},{source:'from:customer',target:'to:client',value:1}];
const c = echarts.init(null, null, {renderer:'svg', ssr:true, width:500, height:300});
c.setOption({series:[{type:'sankey',left:8,right:140,top:8,bottom:8,nodeAlign:'justify',label:{color:'#1b1f24',formatter:(p)=>`${names.get(p.name)}: ${p.value}`},data:nodes,links}]});
const svg=c.renderToSVGString();
console.log([...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map(m=>m[0].slice(0,200)).join('\n'));
